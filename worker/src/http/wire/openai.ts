/**
 * OpenAI's embeddings wire format: the request schema, its `input` split into one item per input, and the response
 * body. OpenAI's base64 is the vector's little-endian float32 bytes.
 */
import { z } from 'zod';
import type { CacheInput } from '../../cache/key.js';
import { INPUT_TYPES } from '../../embedding/prompts.js';

const tokenId = z.number().int().nonnegative();

export const OpenAiEmbeddingsRequest = z.object({
  input: z.union([z.string(), z.array(z.string()), z.array(tokenId), z.array(z.array(tokenId))], {
    errorMap: () => ({
      message: 'must be a string, an array of strings, an array of token ids or an array of such arrays',
    }),
  }),
  model: z.string().optional(),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
  /** Beyond OpenAI: TEI's prompt name, or Cohere's/Voyage's input type (mapped to a prompt: embedding/prompts.ts). */
  prompt_name: z.string({ invalid_type_error: 'must be a string or null' }).nullable().optional(),
  input_type: z
    .enum(INPUT_TYPES, { errorMap: () => ({ message: `must be one of ${INPUT_TYPES.join(', ')}, or null` }) })
    .nullable()
    .optional(),
});
export type OpenAiEmbeddingsRequest = z.infer<typeof OpenAiEmbeddingsRequest>;

/**
 * Splits OpenAI's `input` into one item per input: a text, or a token id array.
 * @example openAiInputs([[101, 102], [7592]]) // [{ tokenIds: [101, 102] }, { tokenIds: [7592] }]
 */
export function openAiInputs(input: OpenAiEmbeddingsRequest['input']): CacheInput[] {
  if (typeof input === 'string') return [{ text: input }];
  if (input.length === 0) return [];
  if (typeof input[0] === 'number') return [{ tokenIds: input as number[] }];
  if (typeof input[0] === 'string') return (input as string[]).map((text) => ({ text }));
  return (input as number[][]).map((tokenIds) => ({ tokenIds }));
}

/** Whether this platform stores a Float32Array's bytes little-endian (every platform workerd runs on does). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Little-endian float32 bytes, base64-encoded, as OpenAI's `encoding_format: "base64"`. workerd has
 * `Uint8Array.prototype.toBase64` (TC39's base64 proposal): about 100x faster than building a binary string for `btoa`,
 * which was most of the time of a cached base64 request (docs/performance.md). Node 20 lacks it, hence the fallback.
 */
export function float32ToBase64(vector: Float32Array): string {
  let bytes: Uint8Array;
  if (LITTLE_ENDIAN) bytes = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
  else {
    bytes = new Uint8Array(vector.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i], true);
  }
  const native = (bytes as Uint8Array & { toBase64?: () => string }).toBase64;
  if (native !== undefined) return native.call(bytes);
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
