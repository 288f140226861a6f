// Module types for the files wrangler imports through its rules (Data for *.onnx, CompiledWasm for *.wasm).
declare module '*.onnx' {
  const data: ArrayBuffer;
  export default data;
}
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
