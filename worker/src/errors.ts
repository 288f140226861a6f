/**
 * Every failure the API reports is an ApiError with a kind; {@link errorResponse} is the one place that turns a kind
 * into an HTTP status and the OpenAI-style body `{ error: { message, type, param, code } }`.
 */
export type ApiErrorKind =
  | 'invalid_json'
  | 'invalid_request'
  | 'unsupported_dimensions'
  | 'context_length_exceeded'
  | 'input_too_long'
  | 'too_many_inputs'
  | 'input_too_large'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'not_found'
  | 'model_not_found'
  | 'method_not_allowed'
  | 'rate_limit_exceeded'
  | 'model_unavailable'
  | 'overloaded'
  | 'config_invalid'
  | 'internal';

interface KindInfo {
  status: number;
  type: string;
}

const KINDS: Record<ApiErrorKind, KindInfo> = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unsupported_dimensions: { status: 400, type: 'invalid_request_error' },
  // OpenAI answers an over-long input with 400; text-embeddings-inference (truncate=false) with 413.
  context_length_exceeded: { status: 400, type: 'invalid_request_error' },
  input_too_long: { status: 413, type: 'invalid_request_error' },
  too_many_inputs: { status: 413, type: 'invalid_request_error' },
  input_too_large: { status: 413, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  unauthorized: { status: 401, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  // OpenAI's answer to a `model` it does not serve.
  model_not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  // OpenAI's 429 body: type "requests" (the limit that was hit), code rate_limit_exceeded.
  rate_limit_exceeded: { status: 429, type: 'requests' },
  model_unavailable: { status: 503, type: 'server_error' },
  overloaded: { status: 503, type: 'server_error' },
  // The deployment's vars are wrong: the server's fault, named so an operator sees which var without reading logs.
  config_invalid: { status: 500, type: 'server_error' },
  internal: { status: 500, type: 'server_error' },
};

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** The request field at fault, e.g. "input[3]" (OpenAI's `param`). */
  readonly param: string | null;
  /** Seconds a client should wait before retrying (429 and 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    kind: ApiErrorKind,
    message: string,
    options: { param?: string | null; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return KINDS[this.kind].status;
  }
}

/** Wraps anything thrown into an ApiError; unknown errors become `internal` without leaking their message. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError('internal', 'internal error');
}

/**
 * The HTTP response for an error.
 * @example errorResponse(new ApiError('not_found', 'no route GET /x')) // 404 {"error":{...,"code":"not_found"}}
 */
export function errorResponse(error: ApiError, headers: Record<string, string> = {}): Response {
  const info = KINDS[error.kind];
  const body = { error: { message: error.message, type: info.type, param: error.param, code: error.kind } };
  const allHeaders: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (error.retryAfterSeconds !== undefined) allHeaders['retry-after'] = String(error.retryAfterSeconds);
  if (error.kind === 'unauthorized') allHeaders['www-authenticate'] = 'Bearer';
  return new Response(JSON.stringify(body), { status: info.status, headers: allHeaders });
}
