/**
 * text-embeddings-inference's wire format: the request schemas of POST /embed, /tokenize, /decode and /similarity, its
 * `inputs` as a list of texts, which of the two a body at POST / is, and the /embed response body.
 */
import { z } from 'zod';
import { ApiError } from '../../errors.js';
import { checkInputs, type InputLimits } from './parse.js';

const truncationDirection = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(['right', 'left'], { errorMap: () => ({ message: 'must be "Right" or "Left"' }) }));

const teiInputs = z.union([z.string(), z.array(z.string())], {
  errorMap: () => ({ message: 'must be a string or an array of strings' }),
});

/** A name from the bundle's prompts (checked against them in embedding/prompts.ts), or null / absent for the default. */
const promptName = z.string({ invalid_type_error: 'must be a string or null' }).nullable().optional();

export const TeiEmbedRequest = z.object({
  inputs: teiInputs,
  normalize: z.boolean().default(true),
  truncate: z.boolean().nullable().default(false),
  truncation_direction: truncationDirection.default('right'),
  dimensions: z.number().int().positive().nullable().optional(),
  prompt_name: promptName,
});
export type TeiEmbedRequest = z.infer<typeof TeiEmbedRequest>;

export const TeiTokenizeRequest = z.object({
  inputs: teiInputs,
  add_special_tokens: z.boolean().default(true),
  prompt_name: promptName,
});
export type TeiTokenizeRequest = z.infer<typeof TeiTokenizeRequest>;

const tokenIds = z.array(z.number({ invalid_type_error: 'must be token ids' }).int('must be integer token ids').min(0));

export const TeiDecodeRequest = z.object({
  ids: z.union([tokenIds, z.array(tokenIds)], {
    errorMap: () => ({ message: 'must be an array of token ids or an array of such arrays' }),
  }),
  skip_special_tokens: z.boolean().default(true),
});
export type TeiDecodeRequest = z.infer<typeof TeiDecodeRequest>;

/**
 * Normalises /decode's `ids` to a batch of sequences, each non-empty and within the vocabulary (param "ids").
 * @example teiIdSequences([101, 102], limits, 30522) // [[101, 102]]
 */
export function teiIdSequences(ids: number[] | number[][], limits: InputLimits, vocabularySize: number): number[][] {
  const single = ids.length === 0 || typeof ids[0] === 'number';
  const sequences = single ? [ids as number[]] : (ids as number[][]);
  checkInputs(
    sequences.map((tokenIds) => ({ tokenIds })),
    limits,
    'ids',
    single,
  );
  sequences.forEach((sequence, i) => {
    const bad = sequence.findIndex((id) => id >= vocabularySize);
    if (bad < 0) return;
    const param = single ? `ids[${bad}]` : `ids[${i}][${bad}]`;
    throw new ApiError(
      'invalid_request',
      `${param}: token id ${sequence[bad]} is outside the vocabulary (0 to ${vocabularySize - 1})`,
      { param },
    );
  });
  return sequences;
}

export const TeiSimilarityRequest = z.object({
  inputs: z.object({
    source_sentence: z.string({ invalid_type_error: 'must be a string' }),
    sentences: z.array(z.string(), { invalid_type_error: 'must be an array of strings' }),
  }),
  parameters: z
    .object({
      truncate: z.boolean().nullable().optional(),
      truncation_direction: truncationDirection.optional(),
      prompt_name: promptName,
    })
    .nullable()
    .optional(),
});
export type TeiSimilarityRequest = z.infer<typeof TeiSimilarityRequest>;

/**
 * True when the body is JSON whose `inputs` is an object: a /similarity request (an /embed one has a string or an
 * array there). Anything else, malformed JSON included, is left to /embed's parser to refuse.
 * @example isSimilarityBody('{"inputs":{"source_sentence":"a","sentences":["b"]}}') // true
 */
export function isSimilarityBody(body: string): boolean {
  try {
    const inputs = (JSON.parse(body) as { inputs?: unknown } | null)?.inputs;
    return typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs);
  } catch {
    return false;
  }
}

/**
 * Normalises TEI's `inputs` to an array of texts, checked against the input limits (param "inputs").
 * @example teiTexts('hello', config) // ['hello']
 */
export function teiTexts(inputs: string | string[], limits: InputLimits): string[] {
  const texts = typeof inputs === 'string' ? [inputs] : inputs;
  checkInputs(
    texts.map((text) => ({ text })),
    limits,
    'inputs',
    typeof inputs === 'string',
  );
  return texts;
}

/** text-embeddings-inference's /embed body: one array of floats per input. */
export function teiEmbedBody(vectors: readonly Float32Array[]): number[][] {
  return vectors.map((vector) => Array.from(vector));
}
