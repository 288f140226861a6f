/**
 * The cost model: what one embedding costs on each path through the caches, in US dollars, from Cloudflare's list
 * prices (vars, so a contract price can replace them) and the bundle's CPU cost per token.
 *
 * On today's list one KV write costs as much as ~250 ms of Worker CPU and one KV read (billed even when it finds
 * nothing) as much as ~25 ms, while a short sentence through USE Lite takes a few ms: for a fast model KV is dearer
 * than recomputing, and only pays by sparing a fresh isolate the model load or by serving many reuses of one write.
 */

import type { EngineName } from '../embedding/engine-choice.js';

/** Prices in USD per million operations (CPU: per million CPU-milliseconds). */
export interface Prices {
  kvReadPerMillion: number;
  kvWritePerMillion: number;
  cpuMsPerMillion: number;
}

/** Cloudflare's list prices on 2026-12-01 (Workers Paid); the Cache API and the in-isolate LRU are free. */
export const LIST_PRICES: Prices = { kvReadPerMillion: 0.5, kvWritePerMillion: 5, cpuMsPerMillion: 0.02 };

/** Workers AI's list price for @cf/baai/bge-small-en-v1.5, USD per million input tokens, for comparison. */
export const WORKERS_AI_BGE_SMALL_PER_MILLION_TOKENS = 0.02;

export interface CostModel {
  prices: Prices;
  /** Worker CPU per input token of one inference (workerd, one thread). */
  cpuMsPerToken: number;
  /** Worker CPU to create the model's session in a fresh isolate. */
  modelLoadCpuMs: number;
}

/**
 * workerd's clock stands still during CPU work, so the worker cannot time its own inference; the CPU figures come from
 * vars or, when unset, from the bundle's size and the engine that runs it. Per-token CPU grows with the weights an int8
 * GEMM has to stream, so each engine's figure is CPU-ms per token per MB of int8 layer weights, and a model load is
 * CPU-ms per MB of the bundle. Measured points and why each figure is what it is: docs/caching.md.
 */
export const CPU_FIGURES: Readonly<Record<'ort' | 'plan', { msPerTokenPerLayerMb: number; loadMsPerMb: number }>> = {
  /**
   * onnxruntime-web (docs/performance.md, Node x 1.4 for workerd): USE Lite (5.7 MiB of layers) ~0.25 ms per token,
   * the MiniLM-L6 fixture (10.5 MiB) ~0.72 ms; 0.06 errs high for USE Lite (0.34) and slightly low for MiniLM (0.63),
   * a deliberately round figure. Session creation: ~1.1-1.4 s for the 22.5 MB MiniLM in Node, ~60 ms per MB.
   */
  ort: { msPerTokenPerLayerMb: 0.06, loadMsPerMb: 60 },
  /**
   * The encoder plan engine in workerd (`npm run bench:plan-engine -- --lengths 12,64,128`, one relaxed dot per int8
   * product): USE Lite 0.050-0.057 ms per token, the MiniLM fixture 0.12-0.15, nearly flat from 12 to 128 tokens;
   * 0.013 errs high for USE Lite (0.074) and is about right for MiniLM (0.137). A CPU without AVX-VNNI takes the
   * two-dot path, ~1.5x these. Load + first inference: 36 ms for USE Lite's 7.7 MiB, 58 ms for the fixture's
   * 15.3 MiB (bench:compare), under 6 ms per MB.
   */
  plan: { msPerTokenPerLayerMb: 0.013, loadMsPerMb: 6 },
};

const MB = 1024 * 1024;

/**
 * The default CPU figures of a bundle when the vars do not set them, for the engine that runs it (a static bundle's
 * table lookups are priced like the plan engine: both far below a KV operation).
 * @example defaultCpuFigures({ layers: 5_945_966, total: 8_040_266 }, 'ort') // { cpuMsPerToken: ~0.34, modelLoadCpuMs: ~460 }
 * @example defaultCpuFigures({ layers: 5_945_966, total: 8_040_266 }, 'plan') // { cpuMsPerToken: ~0.074, modelLoadCpuMs: ~46 }
 */
export function defaultCpuFigures(
  bytes: { layers: number; total: number },
  engine: EngineName,
): Pick<CostModel, 'cpuMsPerToken' | 'modelLoadCpuMs'> {
  const figures = CPU_FIGURES[engine === 'ort' ? 'ort' : 'plan'];
  return {
    cpuMsPerToken: (bytes.layers / MB) * figures.msPerTokenPerLayerMb,
    modelLoadCpuMs: (bytes.total / MB) * figures.loadMsPerMb,
  };
}

/** The cost-model vars (config.ts's CACHE_VARS); the CPU figures are optional. */
export interface CostVars {
  priceKvReadPerMillion: number;
  priceKvWritePerMillion: number;
  priceCpuMsPerMillion: number;
  cpuMsPerToken?: number;
  modelLoadCpuMs?: number;
}

/**
 * The cost model of a bundle: the vars' prices and CPU figures, or the defaults for its size and engine where unset.
 * @example costModelFor(config, manifest.bytes, 'plan').cpuMsPerToken // 0.074 for USE Lite with CPU_MS_PER_TOKEN unset
 */
export function costModelFor(vars: CostVars, bytes: { layers: number; total: number }, engine: EngineName): CostModel {
  const defaults = defaultCpuFigures(bytes, engine);
  return {
    prices: {
      kvReadPerMillion: vars.priceKvReadPerMillion,
      kvWritePerMillion: vars.priceKvWritePerMillion,
      cpuMsPerMillion: vars.priceCpuMsPerMillion,
    },
    cpuMsPerToken: vars.cpuMsPerToken ?? defaults.cpuMsPerToken,
    modelLoadCpuMs: vars.modelLoadCpuMs ?? defaults.modelLoadCpuMs,
  };
}

/** USD of one KV read (a miss is billed too). */
export function kvReadCost(model: CostModel): number {
  return model.prices.kvReadPerMillion / 1e6;
}

/** USD of one KV write. */
export function kvWriteCost(model: CostModel): number {
  return model.prices.kvWritePerMillion / 1e6;
}

/** USD of `ms` of Worker CPU. */
export function cpuCost(model: CostModel, ms: number): number {
  return (ms * model.prices.cpuMsPerMillion) / 1e6;
}

/** USD to embed one text of `tokens` tokens with the model already loaded. */
export function recomputeCost(model: CostModel, tokens: number): number {
  return cpuCost(model, tokens * model.cpuMsPerToken);
}

export interface PathCosts {
  recompute: number;
  lru: number;
  cacheApi: number;
  kvRead: number;
  kvWrite: number;
  /** Spared when every miss of a fresh isolate's request is found in a cache. */
  modelLoad: number;
}

/**
 * What each path costs for one text of `tokens` tokens, in USD.
 * @example pathCosts(model, 12).kvRead / pathCosts(model, 12).recompute // ~6 for USE Lite: recomputing is cheaper
 */
export function pathCosts(model: CostModel, tokens: number): PathCosts {
  return {
    recompute: recomputeCost(model, tokens),
    lru: 0,
    cacheApi: 0,
    kvRead: kvReadCost(model),
    kvWrite: kvWriteCost(model),
    modelLoad: cpuCost(model, model.modelLoadCpuMs),
  };
}

/** The billable work of some traffic, as /info's counters count it. */
export interface BillableWork {
  embeddings: number;
  kvReads: number;
  kvWrites: number;
  inferenceTokens: number;
  modelLoads: number;
}

/**
 * Estimated USD per million embeddings of that traffic (0 before the first embedding). Counts KV operations, inference
 * and model loads; the per-request CPU around them (JSON, hashing) is the same under every policy and is left out.
 * @example costPerMillionEmbeddings({ embeddings: 2, kvReads: 2, kvWrites: 0, inferenceTokens: 0, modelLoads: 0 }, model) // 0.5
 */
export function costPerMillionEmbeddings(work: BillableWork, model: CostModel): number {
  if (work.embeddings === 0) return 0;
  const total =
    work.kvReads * kvReadCost(model) +
    work.kvWrites * kvWriteCost(model) +
    cpuCost(model, work.inferenceTokens * model.cpuMsPerToken + work.modelLoads * model.modelLoadCpuMs);
  return (total / work.embeddings) * 1e6;
}
