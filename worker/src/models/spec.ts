/**
 * The MODELS var: which named models a worker serves and where each one's bundle comes from, written
 * `name=source,name=source` where a source is a bundle compiled into the worker (`default`, `static-default`) or
 * `kv:<contentHash>` for a bundle uploaded to BUNDLE_STORE. Plain zod with no Workers imports, so `npm run tenant` and
 * deploy:dry-run check the var with the worker's own schema (config.ts's CONFIG_VARS).
 */
import { z } from 'zod';

/** The bundles a worker build can compile in (worker/src/bundle/default-bundle.ts's `compiledBundles`). */
export const COMPILED_BUNDLE_NAMES = ['default', 'static-default', 'reranker-fixture'] as const;

export type ModelSource = { compiled: string } | { kvHash: string };

export interface ModelSpec {
  /** What a request's `model` names and /v1/models lists. */
  name: string;
  source: ModelSource;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const KV_SOURCE = /^kv:([0-9a-f]{64})$/;

/**
 * The list MODELS holds, in order (the first model of a kind is that kind's default); a message naming the first bad
 * entry otherwise.
 * @example parseModelSpecs('use=default,mini=kv:81f0…') // [{ name: 'use', source: { compiled: 'default' } }, …]
 */
export function parseModelSpecs(value: string): ModelSpec[] | string {
  const specs: ModelSpec[] = [];
  for (const entry of value.split(',').map((item) => item.trim())) {
    const [name, source, ...rest] = entry.split('=').map((part) => part.trim());
    if (source === undefined || rest.length > 0) return `"${entry}" is not name=source`;
    if (!MODEL_NAME.test(name)) return `"${name}": a model name is letters, digits, ., _, - and /, at most 128`;
    if (specs.some((spec) => spec.name === name)) return `"${name}" is listed twice`;
    const parsed = parseSource(source);
    if (parsed === undefined) {
      return `"${name}=${source}": the source must be kv:<bundle contentHash> or one of ${COMPILED_BUNDLE_NAMES.join(', ')}`;
    }
    specs.push({ name, source: parsed });
  }
  return specs;
}

function parseSource(source: string): ModelSource | undefined {
  const kv = KV_SOURCE.exec(source);
  if (kv !== null) return { kvHash: kv[1] };
  return (COMPILED_BUNDLE_NAMES as readonly string[]).includes(source) ? { compiled: source } : undefined;
}

/** The MODELS schema: a blank var is unset (one model, as before MODELS existed). */
export const ModelSpecsSchema = z
  .string()
  .optional()
  .transform((value, ctx): ModelSpec[] | undefined => {
    if (value === undefined) return undefined;
    const parsed = parseModelSpecs(value);
    if (typeof parsed !== 'string') return parsed;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed });
    return z.NEVER;
  });
