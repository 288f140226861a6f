/**
 * The models one worker serves, by name, each behind its own EmbeddingService: nothing is read until a request needs
 * it, and a model is loaded only by a request that uses it. A request's `model` picks one; without one, a route gets
 * the first model whose kind suits it. Built from MODELS (named, strict) or, without MODELS, around the one bundle the
 * worker serves (its manifest's model name; any requested name is answered by it, as before MODELS existed) and the
 * reranker compiled in beside it.
 */
import type { BundleKind, BundleManifest } from '../../../bundle-format/manifest.js';
import type { BundleSource } from '../bundle/source.js';
import { SharedLru } from '../cache/lru.js';
import type { Config } from '../config.js';
import type { EngineRuntime } from '../embedding/engine-choice.js';
import { EmbeddingService } from '../embedding/service.js';
import { ApiError } from '../errors.js';

/** What a route uses a model for, and the bundle kinds that can do it. */
export const ROLE_KINDS = {
  embedding: ['transformer', 'static'],
  rerank: ['cross-encoder'],
  /** /v1/rank's `rerank_model`: any model that scores a document against a query. */
  second_stage: ['transformer', 'static', 'cross-encoder'],
} as const satisfies Record<string, readonly BundleKind[]>;
export type ModelRole = keyof typeof ROLE_KINDS;

/** How to get a reranker where none is served (the default entry compiles none in: it would not fit the upload limit). */
const RERANKER_HINT =
  '. To serve one, upload a cross-encoder bundle to BUNDLE_STORE (edge-embed upload-bundle) and name it in MODELS beside the embedding model, as <name>=kv:<contentHash> (docs/reranking.md)';

/** A model a request chose, with its manifest read. */
export interface ServedModel {
  /** The name /v1/models lists and responses report. */
  id: string;
  kind: BundleKind;
  manifest: BundleManifest;
  service: EmbeddingService;
}

interface Entry {
  /** Undefined for the one model of a worker without MODELS: its manifest's model name is its id. */
  name: string | undefined;
  source: BundleSource;
  service: EmbeddingService;
}

export class ModelRegistry {
  private constructor(
    private readonly entries: readonly Entry[],
    private readonly strict: boolean,
  ) {}

  /**
   * The worker without MODELS: its bundle, and the cross-encoder compiled in beside it (the reranker's default) when
   * there is one.
   * @example ModelRegistry.single(defaultBundle, { ort: workerdOrt, planKernels })
   */
  static single(source: BundleSource, runtime: EngineRuntime): ModelRegistry {
    const sources = source.reranker === undefined ? [source] : [source, source.reranker];
    const entries = sources.map((bundle) => ({
      name: undefined,
      source: bundle,
      service: new EmbeddingService(bundle, runtime),
    }));
    return new ModelRegistry(entries, false);
  }

  /** @example ModelRegistry.named([['use', defaultBundle], ['static', staticDefaultBundle]], { ort: workerdOrt }) */
  static named(models: ReadonlyArray<readonly [string, BundleSource]>, runtime: EngineRuntime): ModelRegistry {
    // One LRU for all: LRU_MAX_BYTES bounds the isolate however many models it serves.
    const lru = new SharedLru();
    const entries = models.map(([name, source]) => ({
      name,
      source,
      service: new EmbeddingService(source, runtime, lru),
    }));
    return new ModelRegistry(entries, true);
  }

  /**
   * The model `requested` names (by name, or by its manifest's model name), else the first model of the role's kinds.
   * Unknown -> 404 model_not_found listing the names; a model of another kind -> 400.
   */
  async select(requested: string | undefined, role: ModelRole, config: Config): Promise<ServedModel> {
    if (this.strict && requested !== undefined) {
      const model = await this.byName(requested, config);
      if (!fits(model.kind, role)) {
        throw new ApiError(
          'invalid_request',
          `model "${model.id}" is a ${model.kind} model; this route needs ${roleText(role)}`,
          {
            param: 'model',
          },
        );
      }
      return model;
    }
    for (const entry of this.entries) {
      const model = await served(entry, config);
      if (fits(model.kind, role)) return model;
    }
    throw new ApiError(
      'model_not_found',
      `no ${roleText(role, false)} is served here; models: ${await this.names(config)}${role === 'rerank' ? RERANKER_HINT : ''}`,
      {
        param: 'model',
      },
    );
  }

  /** Every model with its manifest (read, not loaded), in MODELS' order. */
  list(config: Config): Promise<ServedModel[]> {
    return Promise.all(this.entries.map((entry) => served(entry, config)));
  }

  /**
   * The static bundle distilled from the model and compiled in beside it (two-stage ranking's default first stage):
   * the registry's own model when MODELS lists that bundle too, so it is loaded once; undefined when there is none.
   */
  companion(model: ServedModel): EmbeddingService | undefined {
    const entry = this.entries.find((candidate) => candidate.service === model.service);
    const companion = entry?.source.staticCompanion;
    if (companion === undefined) return undefined;
    return this.entries.find((candidate) => candidate.source === companion)?.service ?? model.service.staticCompanion();
  }

  private async byName(requested: string, config: Config): Promise<ServedModel> {
    const entry = this.entries.find((candidate) => candidate.name === requested);
    if (entry !== undefined) return served(entry, config);
    // A client that names the bundle's own model (as /info's model_id says) still reaches it.
    for (const model of await this.list(config)) if (model.manifest.modelName === requested) return model;
    throw new ApiError(
      'model_not_found',
      `The model \`${requested}\` does not exist; models: ${await this.names(config)}`,
      { param: 'model' },
    );
  }

  private async names(config: Config): Promise<string> {
    const named = this.entries.every((entry) => entry.name !== undefined);
    const ids = named ? this.entries.map((entry) => entry.name) : (await this.list(config)).map((model) => model.id);
    return ids.join(', ');
  }
}

async function served(entry: Entry, config: Config): Promise<ServedModel> {
  const manifest = await entry.service.manifest(config);
  return {
    id: entry.name ?? manifest.modelName,
    kind: manifest.kind ?? 'transformer',
    manifest,
    service: entry.service,
  };
}

function fits(kind: BundleKind, role: ModelRole): boolean {
  return (ROLE_KINDS[role] as readonly BundleKind[]).includes(kind);
}

/** e.g. "reranking model (cross-encoder)"; `article` puts "a" or "an" in front. */
function roleText(role: ModelRole, article = true): string {
  const noun = `${role === 'rerank' ? 'reranking' : role} model (${ROLE_KINDS[role].join(' or ')})`;
  return article ? `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}` : noun;
}
