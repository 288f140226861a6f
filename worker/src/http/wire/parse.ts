/**
 * Request parsing shared by every route: the JSON body against the route's zod schema, and the inputs against the
 * configured limits. Every problem becomes an ApiError (4xx); nothing here can produce a 5xx.
 */
import type { z } from 'zod';
import type { CacheInput } from '../../cache/key.js';
import { ApiError } from '../../errors.js';

export interface InputLimits {
  maxInputs: number;
  maxInputChars: number;
}

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

/**
 * Checks the input count and each input's size against the limits, and refuses empty inputs.
 * @example checkInputs([{ text: '' }], limits, 'input') // throws invalid_request, param "input"
 */
export function checkInputs(inputs: readonly CacheInput[], limits: InputLimits, param: string, single: boolean): void {
  if (inputs.length === 0) throw new ApiError('invalid_request', `${param}: must not be empty`, { param });
  if (inputs.length > limits.maxInputs) {
    throw new ApiError(
      'too_many_inputs',
      `${param}: ${inputs.length} inputs, more than the limit of ${limits.maxInputs} per request`,
      { param },
    );
  }
  inputs.forEach((input, i) => {
    const where = single ? param : `${param}[${i}]`;
    const size = 'text' in input ? input.text.length : 'pair' in input ? input.pair[1].length : input.tokenIds.length;
    if (size === 0) throw new ApiError('invalid_request', `${where}: must not be empty`, { param: where });
    if (size > limits.maxInputChars) {
      throw new ApiError(
        'input_too_large',
        `${where}: ${size} characters, more than the limit of ${limits.maxInputChars}`,
        { param: where },
      );
    }
  });
}
