// embeddings.bin (a static bundle's table) comes in through wrangler's default Data rule for *.bin, as an ArrayBuffer.
declare module '*.bin' {
  const data: ArrayBuffer;
  export default data;
}
