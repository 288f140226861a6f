/**
 * Request validation: parses the JSON body, checks it against the route's zod schema and the configured limits, and
 * turns it into an {@link EmbedRequest}. Every problem becomes an ApiError (4xx); nothing here can produce a 5xx.
 */
import { z } from 'zod';
import { ApiError, type ApiErrorKind } from '../errors.js';
import type { CacheInput } from '../cache/key.js';
import type { TruncationDirection } from '../../../bundle-runtime/tokenizer.js';

export interface InputLimits {
  maxInputs: number;
  maxInputChars: number;
}

/** What the embedding pipeline needs to know about a request, whichever API it came through. */
export interface EmbedRequest {
  inputs: CacheInput[];
  /** The request field holding the inputs ("input" for OpenAI, "inputs" for TEI), for error messages. */
  param: string;
  /** Cut over-long inputs to the model's max tokens instead of refusing them. */
  truncate: boolean;
  truncationDirection: TruncationDirection;
  /** The error an over-long input gets when `truncate` is false (OpenAI: 400, TEI: 413). */
  tooLongKind: Extract<ApiErrorKind, 'context_length_exceeded' | 'input_too_long'>;
}

const tokenId = z.number().int().nonnegative();

export const OpenAiEmbeddingsRequest = z.object({
  input: z.union([z.string(), z.array(z.string()), z.array(tokenId), z.array(z.array(tokenId))], {
    errorMap: () => ({ message: 'must be a string, an array of strings, an array of token ids or an array of such arrays' }),
  }),
  model: z.string().optional(),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});
export type OpenAiEmbeddingsRequest = z.infer<typeof OpenAiEmbeddingsRequest>;

const truncationDirection = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(['right', 'left'], { errorMap: () => ({ message: 'must be "Right" or "Left"' }) }));

const teiInputs = z.union([z.string(), z.array(z.string())], {
  errorMap: () => ({ message: 'must be a string or an array of strings' }),
});

export const TeiEmbedRequest = z.object({
  inputs: teiInputs,
  normalize: z.boolean().default(true),
  truncate: z.boolean().nullable().default(false),
  truncation_direction: truncationDirection.default('right'),
  dimensions: z.number().int().positive().nullable().optional(),
  prompt_name: z.null({ invalid_type_error: 'prompts are not supported by this bundle' }).optional(),
});
export type TeiEmbedRequest = z.infer<typeof TeiEmbedRequest>;

export const TeiTokenizeRequest = z.object({
  inputs: teiInputs,
  add_special_tokens: z.boolean().default(true),
  prompt_name: z.null({ invalid_type_error: 'prompts are not supported by this bundle' }).optional(),
});
export type TeiTokenizeRequest = z.infer<typeof TeiTokenizeRequest>;

/**
 * Parses a body against a schema; malformed JSON and schema violations become 400s naming the field.
 * @example parseBody('{"input":"hi"}', OpenAiEmbeddingsRequest).input // 'hi'
 */
export function parseBody<S extends z.ZodTypeAny>(body: string, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ApiError('invalid_json', 'the request body is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ApiError('invalid_request', 'the request body must be a JSON object');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue.path.length > 0 ? formatPath(issue.path) : null;
    const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
    throw new ApiError('invalid_request', `${param ?? 'body'}: ${message}`, { param });
  }
  return result.data;
}

function formatPath(path: ReadonlyArray<string | number>): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}

/** Splits OpenAI's `input` into one item per input: a text, or a token id array. */
export function openAiInputs(input: OpenAiEmbeddingsRequest['input']): CacheInput[] {
  if (typeof input === 'string') return [{ text: input }];
  if (input.length === 0) return [];
  if (typeof input[0] === 'number') return [{ tokenIds: input as number[] }];
  if (typeof input[0] === 'string') return (input as string[]).map((text) => ({ text }));
  return (input as number[][]).map((tokenIds) => ({ tokenIds }));
}

/** Normalises TEI's `inputs` to an array of texts, checked against the input limits (param "inputs"). */
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

/**
 * Checks the input count and each input's size against the limits, and refuses empty inputs.
 * @example checkInputs([{ text: '' }], limits, 'input') // throws invalid_request, param "input"
 */
export function checkInputs(inputs: readonly CacheInput[], limits: InputLimits, param: string, single: boolean): void {
  if (inputs.length === 0) throw new ApiError('invalid_request', `${param}: must not be empty`, { param });
  if (inputs.length > limits.maxInputs) {
    throw new ApiError('too_many_inputs', `${param}: ${inputs.length} inputs, more than the limit of ${limits.maxInputs} per request`, {
      param,
    });
  }
  inputs.forEach((input, i) => {
    const where = single ? param : `${param}[${i}]`;
    const size = 'text' in input ? input.text.length : input.tokenIds.length;
    if (size === 0) throw new ApiError('invalid_request', `${where}: must not be empty`, { param: where });
    if (size > limits.maxInputChars) {
      throw new ApiError('input_too_large', `${where}: ${size} characters, more than the limit of ${limits.maxInputChars}`, {
        param: where,
      });
    }
  });
}
