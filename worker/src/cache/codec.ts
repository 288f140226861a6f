/**
 * The cached value of one text: its token count and its vector, stored as compact little-endian binary
 * (4-byte token count, then float32s) rather than JSON floats, so a 384-d vector takes 1,540 bytes.
 */
export interface CachedEmbedding {
  /** Tokens of the whole text before any truncation (special tokens included). */
  tokenCount: number;
  /** The model's output vector, before any `dimensions` or normalisation the request asks for. */
  vector: Float32Array;
}

const HEADER_BYTES = 4;

/** @example decodeCachedEmbedding(encodeCachedEmbedding({ tokenCount: 5, vector })) // same values back */
export function encodeCachedEmbedding(entry: CachedEmbedding): ArrayBuffer {
  const buffer = new ArrayBuffer(HEADER_BYTES + entry.vector.length * 4);
  const view = new DataView(buffer);
  view.setUint32(0, entry.tokenCount, true);
  for (let i = 0; i < entry.vector.length; i++) view.setFloat32(HEADER_BYTES + i * 4, entry.vector[i], true);
  return buffer;
}

/** Decodes a cached value; undefined when the bytes cannot be one (wrong length for `dimensions`). */
export function decodeCachedEmbedding(buffer: ArrayBuffer, dimensions: number): CachedEmbedding | undefined {
  if (buffer.byteLength !== HEADER_BYTES + dimensions * 4) return undefined;
  const view = new DataView(buffer);
  const vector = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) vector[i] = view.getFloat32(HEADER_BYTES + i * 4, true);
  return { tokenCount: view.getUint32(0, true), vector };
}
