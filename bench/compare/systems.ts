/** The Node-side peers of bench/compare.ts and what passes between it and bench/compare/peer.ts. */

export const PEER_SYSTEMS = [
  'ort-node-fp32',
  'ort-node-int8-bundle',
  'transformers-node-fp32',
  'transformers-node-q8',
  'transformers-wasm-fp32',
  'transformers-wasm-q8',
  'tfjs-use-reference',
] as const;
export type PeerSystem = (typeof PEER_SYSTEMS)[number];

export interface PeerPlan {
  /** One call each, twice: right after load (after `warmup` calls on the first of them), and after `warmupBatch`. */
  singles: string[];
  warmup: number;
  /** Embedded once, untimed, between the two passes over `singles` (lets V8 tier up the WASM and the heap grow). */
  warmupBatch: string[];
  /** Named throughput workloads, each a list of batches (one call per batch). */
  workloads: Record<string, string[][]>;
  /** transformers.js model folder (env.localModelPath) and model id. */
  transformersPath: string;
  transformersModel: string;
}

export interface PeerResult {
  system: PeerSystem;
  loadMs: number;
  /** (a) after the warm-up batch. */
  singleMs: number[];
  /** (a) right after load, before the warm-up batch. */
  singleMsFresh: number[];
  workloads: Record<string, { texts: number; seconds: number }>;
  rssBytes: number;
  /** WASM memory of onnxruntime-web, for the WASM peers. */
  wasmHeapBytes: number | null;
  dimensions: number;
}
