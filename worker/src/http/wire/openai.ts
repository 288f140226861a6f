/**
 * Response shaping: cuts vectors to the requested `dimensions`, normalises, and writes OpenAI's and
 * text-embeddings-inference's response bodies. OpenAI's base64 is the vector's little-endian float32 bytes.
 */

/**
 * The vector a client asked for: the first `dimensions` values (Matryoshka), L2-normalised when asked.
 * @example shapeVector(Float32Array.of(3, 4, 12), { dimensions: 2, normalize: true }) // [0.6, 0.8]
 */
export function shapeVector(vector: Float32Array, options: { dimensions?: number; normalize: boolean }): Float32Array {
  const shaped = vector.slice(0, options.dimensions ?? vector.length);
  if (!options.normalize) return shaped;
  let sum = 0;
  for (const value of shaped) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < shaped.length; i++) shaped[i] /= norm;
  return shaped;
}

/** Little-endian float32 bytes, base64-encoded, as OpenAI's `encoding_format: "base64"`. */
export function float32ToBase64(vector: Float32Array): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((value, i) => view.setFloat32(i * 4, value, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export interface OpenAiEmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** @example openAiEmbeddingsBody([vector], 'float', 'all-MiniLM-L6-v2', 5).data[0].embedding // number[] */
export function openAiEmbeddingsBody(
  vectors: readonly Float32Array[],
  encodingFormat: 'float' | 'base64',
  model: string,
  promptTokens: number,
): OpenAiEmbeddingsResponse {
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: encodingFormat === 'base64' ? float32ToBase64(vector) : Array.from(vector),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** text-embeddings-inference's /embed body: one array of floats per input. */
export function teiEmbedBody(vectors: readonly Float32Array[]): number[][] {
  return vectors.map((vector) => Array.from(vector));
}
