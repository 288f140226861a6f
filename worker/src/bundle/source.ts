/**
 * Where a bundle comes from. The pipeline only sees this interface, so the bundle can be compiled into the worker
 * (default-bundle.ts) or read from KV (kv-bundle.ts). Each getter is called only when first needed, once per isolate
 * (again only after a failure).
 */
export interface BundleSource {
  /** The raw manifest.json (validated by the caller with parseBundleManifest). */
  manifest(): Promise<unknown>;
  /** The parsed tokenizer.json. */
  tokenizer(): Promise<object>;
  /** The model's bytes: model.onnx, or embeddings.bin for a static bundle (the manifest's `kind` says which). */
  model(): Promise<Uint8Array>;
  /**
   * The encoder plan's files, for a bundle whose manifest lists them; undefined when this source does not hold them
   * (a KV bundle uploaded by an edge-embed from before plans). Only the plan engine calls it, so a bundle served by
   * ONNX Runtime never reads plan.bin, and one served by the plan never reads model.onnx.
   */
  planFiles?(): Promise<PlanFiles | undefined>;
  /**
   * A static bundle distilled from this one (`edge-embed distill`), compiled in beside it: the first stage of two-stage
   * ranking (/v1/rank with rerank_top_k). Absent when there is none.
   */
  staticCompanion?: BundleSource;
  /** A cross-encoder bundle compiled in beside this one, which /rerank and /v1/rerank serve. Absent when there is none. */
  reranker?: BundleSource;
}

/** plan.json (parsed, not yet validated: bundle-format/encoder-plan.ts's parseEncoderPlan does that) and plan.bin. */
export interface PlanFiles {
  plan: unknown;
  weights(): Promise<Uint8Array>;
}

/**
 * A bundle that cannot be served (missing, corrupt, misconfigured). Its message is written for the operator and is safe
 * to show clients: the API answers 503 with it instead of a generic "could not be loaded".
 */
export class BundleUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleUnavailableError';
  }
}
