// plan.bin is imported as Data (an ArrayBuffer) through wrangler.toml's rules.
declare module '*.bin' {
  const data: ArrayBuffer;
  export default data;
}
