/**
 * Prompts (sentence-transformers' `prompts`, e.g. e5's `query: `): which one a request gets, and the texts it is
 * prepended to. From there on the prompt is part of the text: it is tokenized with it, counted in usage tokens and
 * hashed into the cache key with it (key.ts hashes the exact text), so two prompts never share a cache entry.
 */
import type { BundleManifest } from '../../../bundle-format/manifest.js';
import { ApiError } from '../errors.js';

/** Cohere's and Voyage's `input_type` values, which /v1/embeddings accepts too. */
export const INPUT_TYPES = ['query', 'document', 'passage', 'search_query', 'search_document'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

type Role = 'query' | 'document';

/** The prompt names a role is looked up under, first found wins (e5 says `passage`, others `document`). */
const ROLE_PROMPTS: Record<Role, readonly string[]> = {
  query: ['query'],
  document: ['document', 'passage'],
};

const ROLE_OF: Record<InputType, { role: Role; names: readonly string[] }> = {
  query: { role: 'query', names: ROLE_PROMPTS.query },
  search_query: { role: 'query', names: ROLE_PROMPTS.query },
  document: { role: 'document', names: ROLE_PROMPTS.document },
  search_document: { role: 'document', names: ROLE_PROMPTS.document },
  passage: { role: 'document', names: ['passage', 'document'] },
};

/**
 * The prompt text a request gets: the one it names, else the tenant's DEFAULT_PROMPT_NAME, else the bundle's
 * default; '' for none. A name the bundle lacks is the client's 400; a tenant default it lacks is the deployment's 500.
 * @example requestPrompt(manifest, config.defaultPromptName, { name: 'query', param: 'prompt_name' }) // 'query: '
 */
export function requestPrompt(
  manifest: BundleManifest,
  tenantDefault: string | undefined,
  requested: { name: string | null | undefined; param: string },
): string {
  const prompts = manifest.prompts ?? {};
  const known = Object.keys(prompts);
  const { name, param } = requested;
  if (name != null) {
    if (known.length === 0) {
      throw new ApiError(
        'invalid_request',
        `${param}: the model ${manifest.modelName} has no prompts; leave ${param} out`,
        { param },
      );
    }
    if (prompts[name] === undefined) {
      throw new ApiError(
        'invalid_request',
        `${param}: unknown prompt ${JSON.stringify(name)}; the model's prompts are: ${known.join(', ')}`,
        { param },
      );
    }
    return prompts[name];
  }
  return defaultPrompt(manifest, tenantDefault);
}

/**
 * The prompt for Cohere's/Voyage's `input_type`: `query` and `search_query` take the `query` prompt; `document`,
 * `search_document` and `passage` the `document` or `passage` prompt (the one named like the type first). A model
 * without that prompt gets none: it embeds both sides alike (bge has only a query prompt).
 * @example inputTypePrompt(e5Manifest, 'search_document') // 'passage: '
 */
export function inputTypePrompt(manifest: BundleManifest, inputType: InputType): string {
  return firstPrompt(manifest, ROLE_OF[inputType].names) ?? '';
}

/**
 * /v1/rank's prompts: a model with a query or document/passage prompt gets them by role (either may be ''); one
 * with other prompts gets its default prompt on both sides; one without prompts (such as the static first stage of
 * two-stage ranking) none.
 */
export function rankPrompts(
  manifest: BundleManifest,
  tenantDefault: string | undefined,
): { query: string; document: string } {
  if (Object.keys(manifest.prompts ?? {}).length === 0) return { query: '', document: '' };
  const query = firstPrompt(manifest, ROLE_PROMPTS.query);
  const document = firstPrompt(manifest, ROLE_PROMPTS.document);
  if (query === undefined && document === undefined) {
    const prompt = defaultPrompt(manifest, tenantDefault);
    return { query: prompt, document: prompt };
  }
  return { query: query ?? '', document: document ?? '' };
}

/** @example withPrompt('query: ', ['cats']) // ['query: cats'] */
export function withPrompt(prompt: string, texts: readonly string[]): string[] {
  return texts.map((text) => prompt + text);
}

function firstPrompt(manifest: BundleManifest, names: readonly string[]): string | undefined {
  const name = names.find((candidate) => manifest.prompts?.[candidate] !== undefined);
  return name === undefined ? undefined : manifest.prompts?.[name];
}

function defaultPrompt(manifest: BundleManifest, tenantDefault: string | undefined): string {
  if (tenantDefault === undefined) {
    return manifest.defaultPromptName == null ? '' : (manifest.prompts?.[manifest.defaultPromptName] ?? '');
  }
  const prompt = manifest.prompts?.[tenantDefault];
  if (prompt === undefined) {
    const known = Object.keys(manifest.prompts ?? {});
    throw new ApiError(
      'config_invalid',
      `the deployment's config is invalid: DEFAULT_PROMPT_NAME ${tenantDefault} is not a prompt of the model ${manifest.modelName} (${known.length === 0 ? 'it has none' : `it has: ${known.join(', ')}`})`,
    );
  }
  return prompt;
}
