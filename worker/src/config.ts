/**
 * Limits and tuning read from the environment (wrangler.toml [vars]), with defaults that suit a MiniLM-sized model in
 * a 128 MB isolate. One table, {@link CONFIG_VARS}, says per config field which variable sets it, its schema (with the
 * default) and what it is for; the worker's config, its Env type and `npm run tenant`'s flags all derive from it.
 */
import { z } from 'zod';
import { DEFAULT_BATCH_LIMITS } from '../../bundle-runtime/batch.js';
import { CACHE_POLICY_MODES, DEFAULT_CACHE_API_READ_MIN_MS } from './cache-policy/policy.js';
import { LIST_PRICES } from './cache-policy/prices.js';
import { ENGINE_CHOICES } from './embedding/engine-choice.js';
import type { Env } from './env.js';
import { ModelSpecsSchema } from './models/spec.js';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

// A var written unquoted in wrangler.toml (MAX_INPUTS = 64) reaches the worker as a number, not a string.
const blankToUndefined = (value: string | undefined) =>
  value === undefined || String(value).trim() === '' ? undefined : value;

/** A comma-separated list, blanks dropped. */
const commaList = (value: string | undefined) =>
  String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

interface ConfigVar {
  /** The variable (wrangler.toml [vars], or a secret) the field is read from. */
  env: string;
  schema: z.ZodTypeAny;
  /** One line for humans (`npm run tenant -- add --help`). */
  description: string;
  /** Turns the raw value into the schema's input; by default a blank value counts as unset. */
  read?: (value: string | undefined) => unknown;
}

/** The numeric limits and tuning; each is a var in wrangler.toml and a flag of `npm run tenant -- add`. */
export const LIMIT_VARS = {
  // Each input costs up to one KV read and one write (Workers allow 1,000 KV operations per request).
  maxInputs: { env: 'MAX_INPUTS', schema: positiveInt(256), description: 'inputs per request' },
  maxInputChars: { env: 'MAX_INPUT_CHARS', schema: positiveInt(32_768), description: 'characters per input' },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', schema: positiveInt(2 * 1024 * 1024), description: 'bytes per request body' },
  maxBatchSize: {
    env: 'MAX_BATCH_SIZE',
    schema: positiveInt(DEFAULT_BATCH_LIMITS.maxBatchSize),
    description: 'sequences per inference call',
  },
  // Small batches are faster per token in onnxruntime-web's WASM backend, one thread: per text on the MiniLM-sized
  // bundle 39-44 ms at 256 against 59-74 ms at 2,048 (docs/performance.md). It also bounds the WASM heap a batch grows
  // (and never returns): for a MiniLM-L6-sized model 2,048 adds ~16-38 MiB over the loaded model, 4,096 up to ~86 MiB.
  maxBatchTokens: {
    env: 'MAX_BATCH_TOKENS',
    schema: positiveInt(DEFAULT_BATCH_LIMITS.maxBatchTokens),
    description: 'padded tokens (sequences x longest sequence) per inference call; a longer sequence still runs, alone',
  },
  cacheTtlSeconds: {
    env: 'CACHE_TTL_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .min(60)
      .default(30 * 24 * 3600),
    description: "lifetime of a cache entry in KV and the Cache API, in seconds (KV's minimum is 60)",
  },
  kvTimeoutMs: {
    env: 'KV_TIMEOUT_MS',
    schema: positiveInt(500),
    description: 'a KV or Cache API read slower than this (ms) counts as a miss',
  },
  lruMaxBytes: {
    env: 'LRU_MAX_BYTES',
    schema: z.coerce
      .number()
      .int()
      .nonnegative()
      .default(8 * 1024 * 1024),
    description: 'bytes of embeddings the in-isolate LRU holds',
  },
  retryAfterSeconds: {
    env: 'RETRY_AFTER_SECONDS',
    schema: positiveInt(5),
    description: 'Retry-After (seconds) of a 503 while the model cannot load',
  },
  rateLimitRequests: {
    env: 'RATE_LIMIT_REQUESTS',
    schema: z.coerce.number().int().nonnegative().default(0),
    description:
      "requests per API key (per client IP when the API is open) and RATE_LIMIT_PERIOD_SECONDS; 0: no limit. With a RATE_LIMITER binding it must equal the binding's limit",
  },
  rateLimitPeriodSeconds: {
    env: 'RATE_LIMIT_PERIOD_SECONDS',
    schema: z.coerce
      .number()
      .int()
      .refine((value) => value === 10 || value === 60, 'must be 10 or 60 (the periods Workers Rate Limiting supports)')
      .default(60),
    description: 'the period of RATE_LIMIT_REQUESTS, in seconds: 10 or 60',
  },
  // A cross-encoder runs once per (query, document) pair, so a rerank's cost is its pairs' tokens, not its inputs.
  rerankMaxTokens: {
    env: 'RERANK_MAX_TOKENS',
    schema: positiveInt(32_768),
    description: 'tokens of uncached (query, document) pairs one rerank request may run (more: 413)',
  },
  // A request waiting for the one WASM thread holds its body and inputs; past the cap it is refused, not queued.
  maxConcurrentInferences: {
    env: 'MAX_CONCURRENT_INFERENCES',
    schema: positiveInt(64),
    description: 'embedding requests in flight per isolate; more get 503 overloaded with Retry-After',
  },
} as const satisfies Record<string, ConfigVar>;

const usdPerMillion = (fallback: number) => z.coerce.number().nonnegative().default(fallback);

/** The cache policy and the cost model it decides by (docs/caching.md); a tenant sets them with `--var NAME=value`. */
export const CACHE_VARS = {
  cachePolicy: {
    env: 'CACHE_POLICY',
    schema: z.enum(CACHE_POLICY_MODES).default('cost'),
    description:
      'cost: KV only where it pays, the Cache API for the rest; always: every miss read from and written to KV; off: the LRU only',
  },
  kvWriteBudgetPerDay: {
    env: 'KV_WRITE_BUDGET_PER_DAY',
    schema: z.coerce.number().int().nonnegative().default(1000),
    description:
      "KV writes per UTC day and isolate under CACHE_POLICY=cost (the free plan's account-wide limit is 1,000)",
  },
  kvAdmitAfter: {
    env: 'KV_ADMIT_AFTER',
    schema: positiveInt(3),
    description: 'accesses of a text (in the isolate, lately) before CACHE_POLICY=cost considers writing it to KV',
  },
  cacheApiReadMinMs: {
    env: 'CACHE_API_READ_MIN_MS',
    schema: z.coerce.number().nonnegative().default(DEFAULT_CACHE_API_READ_MIN_MS),
    description:
      'with the model loaded, CACHE_POLICY=cost looks a text up in the Cache API only if recomputing it takes this many CPU-ms',
  },
  // Each Cache API read or write is a subrequest: Workers allow 50 per request on the free plan, 10,000 on paid.
  cacheApiMaxOps: {
    env: 'CACHE_API_MAX_OPS',
    schema: z.coerce.number().int().nonnegative().default(50),
    description:
      'Cache API reads and writes per embedding request (each is a subrequest; the free plan allows 50 per request)',
  },
  hedgeAfterMs: {
    env: 'HEDGE_AFTER_MS',
    schema: z.coerce.number().int().nonnegative().default(10),
    description:
      'with the model loaded, misses are computed when the Cache API / KV has not answered within this many ms (0: at once)',
  },
  // workerd's clock stands still during CPU work, so the worker cannot time its own inference: figures, not timings.
  cpuMsPerToken: {
    env: 'CPU_MS_PER_TOKEN',
    schema: z.coerce.number().positive().optional(),
    description:
      "Worker CPU-ms per token of inference; unset: per MB of the bundle's int8 layer weights, 0.013 on the plan engine, 0.06 on ONNX Runtime",
  },
  modelLoadCpuMs: {
    env: 'MODEL_LOAD_CPU_MS',
    schema: z.coerce.number().nonnegative().optional(),
    description:
      'Worker CPU-ms to load the model in a fresh isolate; unset: per MB of the bundle, 6 on the plan engine, 60 on ONNX Runtime',
  },
  priceKvReadPerMillion: {
    env: 'PRICE_KV_READ_PER_MILLION',
    schema: usdPerMillion(LIST_PRICES.kvReadPerMillion),
    description: 'USD per million KV reads',
  },
  priceKvWritePerMillion: {
    env: 'PRICE_KV_WRITE_PER_MILLION',
    schema: usdPerMillion(LIST_PRICES.kvWritePerMillion),
    description: 'USD per million KV writes',
  },
  priceCpuMsPerMillion: {
    env: 'PRICE_CPU_MS_PER_MILLION',
    schema: usdPerMillion(LIST_PRICES.cpuMsPerMillion),
    description: 'USD per million Worker CPU-milliseconds',
  },
} as const satisfies Record<string, ConfigVar>;

/** Every config field: the limits, the cache policy, the API keys (a secret) and the tenant (set by `npm run tenant -- add`). */
export const CONFIG_VARS = {
  ...LIMIT_VARS,
  ...CACHE_VARS,
  apiKeys: {
    env: 'API_KEYS',
    schema: z.array(z.string()),
    description: 'comma-separated Bearer keys (a secret); when unset or empty the API is open',
    read: (value: string | undefined) =>
      (value ?? '')
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== ''),
  },
  tenantId: {
    env: 'TENANT_ID',
    schema: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _, at most 63')
      .optional(),
    description: 'the tenant this deployment serves; prefixes cache keys (`t:<id>:`), so tenants never share an entry',
  },
  bundleHash: {
    env: 'BUNDLE_HASH',
    schema: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be a bundle contentHash (64 lowercase hex digits) or empty')
      .optional(),
    description: 'serve the bundle with this contentHash from BUNDLE_STORE instead of the compiled-in one',
    read: (value: string | undefined) => blankToUndefined(value === undefined ? undefined : String(value).trim()),
  },
  engine: {
    env: 'ENGINE',
    schema: z.enum(ENGINE_CHOICES, { message: 'must be auto, plan or ort' }).default('auto'),
    description:
      "the inference engine: auto (the bundle's encoder plan when it has one, else ONNX Runtime), plan (503 without a plan) or ort (ONNX Runtime on model.onnx)",
    read: (value: string | undefined) => blankToUndefined(value === undefined ? undefined : String(value).trim()),
  },
  models: {
    env: 'MODELS',
    schema: ModelSpecsSchema,
    description:
      'several models: name=source,... (source: default, static-default or kv:<contentHash>); requests choose by `model`',
    read: (value: string | undefined) => blankToUndefined(value === undefined ? undefined : String(value).trim()),
  },
  corsAllowOrigins: {
    env: 'CORS_ALLOW_ORIGINS',
    schema: z.array(
      z.string().regex(/^(\*|https?:\/\/[^/\s,]+)$/, 'each entry must be an origin like https://app.example.com, or *'),
    ),
    description: 'origins browsers may call the API from (comma-separated, or *); unset: no CORS headers',
    read: commaList,
  },
  autoTruncate: {
    env: 'AUTO_TRUNCATE',
    schema: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .default('false')
      .transform((value) => value === 'true'),
    description: "POST /v1/embeddings cuts an over-long input to the model's max tokens instead of refusing it",
    read: (value: string | undefined) => blankToUndefined(value === undefined ? undefined : String(value)),
  },
  defaultPromptName: {
    env: 'DEFAULT_PROMPT_NAME',
    schema: z
      .string()
      .regex(/^[\w.-]{1,64}$/, 'a prompt name: letters, digits, _, - and ., at most 64')
      .optional(),
    description:
      "the bundle's prompt a request gets when it names none (instead of the bundle's own default); unset: the bundle's",
  },
  // Clients such as LangChain's OpenAIEmbeddings send tiktoken ids, not this vocabulary's: wrong vectors, no error.
  tokenIdInputs: {
    env: 'TOKEN_ID_INPUTS',
    schema: z.enum(['reject', 'accept'], { message: 'must be reject or accept' }).default('reject'),
    description:
      "POST /v1/embeddings: reject (400) token id inputs, or accept them as ids of the bundle's vocabulary (/tokenize's)",
  },
  rerankTopK: {
    env: 'RERANK_TOP_K',
    schema: z.coerce.number().int().positive().optional(),
    description:
      'POST /v1/rank without rerank_top_k: the transformer re-scores the static top k (when the worker has both); unset: one stage',
    read: blankToUndefined,
  },
} as const satisfies Record<string, ConfigVar>;

/** The variables readConfig reads, e.g. 'MAX_INPUTS'. */
export type ConfigVarName = (typeof CONFIG_VARS)[keyof typeof CONFIG_VARS]['env'];

type ConfigShape = { -readonly [Field in keyof typeof CONFIG_VARS]: (typeof CONFIG_VARS)[Field]['schema'] };

const ConfigSchema = z.object(
  Object.fromEntries(Object.entries(CONFIG_VARS).map(([field, entry]) => [field, entry.schema])) as ConfigShape,
);

export type Config = z.infer<typeof ConfigSchema>;

/** A var whose value the worker would refuse, and why (the message never repeats the value: it may be a secret). */
export interface ConfigProblem {
  variable: ConfigVarName;
  message: string;
}

/** Thrown by {@link readConfig}; names every bad variable. */
export class ConfigInvalidError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(problems.map((problem) => `${problem.variable}: ${problem.message}`).join('; '));
    this.name = 'ConfigInvalidError';
    this.problems = problems;
  }
}

/**
 * Checks vars against the table, the worker's own schema: for a wrangler.toml environment before a deploy, or the env.
 * @example checkConfigVars({ MAX_INPUTS: '0' }) // [{ variable: 'MAX_INPUTS', message: 'Number must be greater than 0' }]
 */
export function checkConfigVars(vars: Readonly<Record<string, unknown>>): ConfigProblem[] {
  const entries: ConfigVar[] = Object.values(CONFIG_VARS);
  const problems = entries.flatMap((entry) => {
    const result = entry.schema.safeParse((entry.read ?? blankToUndefined)(vars[entry.env] as string | undefined));
    return result.success ? [] : [{ variable: entry.env as ConfigVarName, message: result.error.issues[0].message }];
  });
  const isSet = (name: string) => blankToUndefined(vars[name] as string | undefined) !== undefined;
  if (isSet('MODELS') && isSet('BUNDLE_HASH')) {
    problems.push({ variable: 'MODELS', message: 'set with BUNDLE_HASH: name that bundle in MODELS (name=kv:<hash>)' });
  }
  return problems;
}

/**
 * Reads the config from the worker's env; throws a {@link ConfigInvalidError} naming every bad variable.
 * @example readConfig({ MAX_INPUTS: '64' }).maxInputs // 64
 */
export function readConfig(env: Env): Config {
  const entries: [string, ConfigVar][] = Object.entries(CONFIG_VARS);
  const raw = Object.fromEntries(
    entries.map(([field, entry]) => [field, (entry.read ?? blankToUndefined)(env[entry.env as ConfigVarName])]),
  );
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigInvalidError(checkConfigVars(env as Record<string, unknown>));
  return result.data;
}
