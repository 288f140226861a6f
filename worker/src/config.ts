/**
 * Limits and tuning read from the environment (wrangler.toml [vars]), with defaults that suit a MiniLM-sized model in
 * a 128 MB isolate.
 */
import { z } from 'zod';
import type { Env } from './env.js';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const ConfigSchema = z.object({
  /** Inputs per request; each costs up to one KV read and one write (Workers allow 1,000 KV operations per request). */
  maxInputs: positiveInt(256),
  maxInputChars: positiveInt(32_768),
  maxBodyBytes: positiveInt(2 * 1024 * 1024),
  /** Sequences per inference call. */
  maxBatchSize: positiveInt(32),
  /**
   * Padded tokens (sequences x longest sequence) per inference call; a longer sequence still runs, alone. Small
   * batches are faster per token in onnxruntime-web's WASM backend, one thread: per text on the MiniLM-sized bundle
   * 39 ms at 256 against 61-75 ms at 2,048 (README, performance). It also bounds the WASM heap a batch grows (and
   * never returns): for a MiniLM-L6-sized model 2,048 adds ~16-38 MiB over the loaded model, 4,096 up to ~86 MiB.
   */
  maxBatchTokens: positiveInt(256),
  /** KV's minimum TTL is 60 s. */
  cacheTtlSeconds: z.coerce.number().int().min(60).default(30 * 24 * 3600),
  /** A KV read slower than this counts as a miss. */
  kvTimeoutMs: positiveInt(500),
  lruMaxBytes: z.coerce.number().int().nonnegative().default(8 * 1024 * 1024),
  retryAfterSeconds: positiveInt(5),
  apiKeys: z.array(z.string()),
  /** Prefixes cache keys (`t:<id>:`), so tenants never share an entry even in a shared namespace. */
  tenantId: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _, at most 63')
    .optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

const blankToUndefined = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value);

/**
 * Reads the config from the worker's env; throws naming the first bad variable.
 * @example readConfig({ MAX_INPUTS: '64' }).maxInputs // 64
 */
export function readConfig(env: Env): Config {
  const result = ConfigSchema.safeParse({
    maxInputs: blankToUndefined(env.MAX_INPUTS),
    maxInputChars: blankToUndefined(env.MAX_INPUT_CHARS),
    maxBodyBytes: blankToUndefined(env.MAX_BODY_BYTES),
    maxBatchSize: blankToUndefined(env.MAX_BATCH_SIZE),
    maxBatchTokens: blankToUndefined(env.MAX_BATCH_TOKENS),
    cacheTtlSeconds: blankToUndefined(env.CACHE_TTL_SECONDS),
    kvTimeoutMs: blankToUndefined(env.KV_TIMEOUT_MS),
    lruMaxBytes: blankToUndefined(env.LRU_MAX_BYTES),
    retryAfterSeconds: blankToUndefined(env.RETRY_AFTER_SECONDS),
    apiKeys: (env.API_KEYS ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key !== ''),
    tenantId: blankToUndefined(env.TENANT_ID),
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid worker config: ${String(issue.path[0])}: ${issue.message}`);
  }
  return result.data;
}
