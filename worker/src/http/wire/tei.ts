/**
 * text-embeddings-inference's wire format: the request schemas of POST /embed, /tokenize and /similarity, its
 * `inputs` as a list of texts, and the /embed response body.
 */
import { z } from 'zod';
import { checkInputs, type InputLimits } from './parse.js';

const truncationDirection = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(['right', 'left'], { errorMap: () => ({ message: 'must be "Right" or "Left"' }) }));

const teiInputs = z.union([z.string(), z.array(z.string())], {
  errorMap: () => ({ message: 'must be a string or an array of strings' }),
});

const noPrompt = z.null({ invalid_type_error: 'prompts are not supported by this bundle' }).optional();

export const TeiEmbedRequest = z.object({
  inputs: teiInputs,
  normalize: z.boolean().default(true),
  truncate: z.boolean().nullable().default(false),
  truncation_direction: truncationDirection.default('right'),
  dimensions: z.number().int().positive().nullable().optional(),
  prompt_name: noPrompt,
});
export type TeiEmbedRequest = z.infer<typeof TeiEmbedRequest>;

export const TeiTokenizeRequest = z.object({
  inputs: teiInputs,
  add_special_tokens: z.boolean().default(true),
  prompt_name: noPrompt,
});
export type TeiTokenizeRequest = z.infer<typeof TeiTokenizeRequest>;

export const TeiSimilarityRequest = z.object({
  inputs: z.object({
    source_sentence: z.string({ invalid_type_error: 'must be a string' }),
    sentences: z.array(z.string(), { invalid_type_error: 'must be an array of strings' }),
  }),
  parameters: z
    .object({
      truncate: z.boolean().nullable().optional(),
      truncation_direction: truncationDirection.optional(),
      prompt_name: noPrompt,
    })
    .nullable()
    .optional(),
});
export type TeiSimilarityRequest = z.infer<typeof TeiSimilarityRequest>;

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
