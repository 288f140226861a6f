/**
 * The Workers glue of the model registry: builds it from the request's config (MODELS) with the bundles this entry
 * compiled in and the env's BUNDLE_STORE, and keeps it while MODELS stays the same (an isolate sees one deployment's
 * vars), so each model's lazily loaded state lives as long as the isolate.
 */
import { kvBundle } from '../bundle/kv-bundle.js';
import type { BundleSource } from '../bundle/source.js';
import type { Config } from '../config.js';
import type { EngineRuntime } from '../embedding/engine-choice.js';
import type { Env } from '../env.js';
import { ApiError } from '../errors.js';
import { ModelRegistry } from './registry.js';
import type { ModelSpec } from './spec.js';

export interface ModelCatalogDeps extends EngineRuntime {
  /** What the worker serves without MODELS. */
  bundle: BundleSource;
  /** The bundles compiled into this entry, by the name MODELS gives them (`default`, `static-default`). */
  compiled?: Readonly<Record<string, BundleSource>>;
}

export class ModelCatalog {
  private readonly single: ModelRegistry;
  private named: { key: string; registry: ModelRegistry } | undefined;

  constructor(private readonly deps: ModelCatalogDeps) {
    this.single = ModelRegistry.single(deps.bundle, runtimeOf(deps));
  }

  /** @example catalog.registry(c.env, c.get('config')).select(body.model, 'embedding', config) */
  registry(env: Env, config: Config): ModelRegistry {
    const specs = config.models;
    if (specs === undefined) return this.single;
    if (config.bundleHash !== undefined) {
      throw new ApiError(
        'config_invalid',
        "the deployment's config is invalid: MODELS and BUNDLE_HASH are both set; name the KV bundle in MODELS (name=kv:<hash>) and unset BUNDLE_HASH",
      );
    }
    const key = JSON.stringify(specs);
    if (this.named?.key !== key) {
      const models = specs.map((spec) => [spec.name, this.source(spec, env)] as const);
      this.named = { key, registry: ModelRegistry.named(models, runtimeOf(this.deps)) };
    }
    return this.named.registry;
  }

  private source(spec: ModelSpec, env: Env): BundleSource {
    if ('kvHash' in spec.source) return kvBundle(env.BUNDLE_STORE, spec.source.kvHash);
    const bundle = this.deps.compiled?.[spec.source.compiled];
    if (bundle !== undefined) return bundle;
    throw new ApiError(
      'config_invalid',
      `the deployment's config is invalid: MODELS: ${spec.name}=${spec.source.compiled}: this worker has no compiled-in bundle ${spec.source.compiled} (a KV-only entry serves kv:<contentHash> sources)`,
    );
  }
}

function runtimeOf({ ort, planKernels }: EngineRuntime): EngineRuntime {
  return { ort, planKernels };
}
