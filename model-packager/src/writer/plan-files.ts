/**
 * An encoder plan as a bundle stores it (plan.json + plan.bin) and the manifest entries that list the two files, whose
 * sha256 values the content hash then covers. Every pack path that ships a plan (embedders, cross-encoders) goes
 * through here, so the files and their manifest entries cannot drift apart.
 */
import type { EncoderPlan } from '../../../bundle-format/encoder-plan.js';
import { sha256Hex } from '../../../bundle-format/hash.js';
import type { BundleManifest } from '../../../bundle-format/manifest.js';

/** plan.json's bytes and plan.bin, as writeBundle takes them. */
export interface PlanFiles {
  json: Uint8Array;
  weights: Uint8Array;
}

/** @example planFiles(lowered.plan, lowered.weights) // { json: bytes of plan.json, weights: plan.bin } */
export function planFiles(plan: EncoderPlan, weights: Uint8Array): PlanFiles {
  return { json: new TextEncoder().encode(JSON.stringify(plan)), weights };
}

/**
 * The manifest's `files` entries for a bundle's plan; none without one (so a bundle without a plan keeps its hash).
 * @example const files = { 'model.onnx': ..., 'tokenizer.json': ..., ...(await planFileEntries(plan)) }
 */
export async function planFileEntries(plan: PlanFiles | null): Promise<Partial<BundleManifest['files']>> {
  if (!plan) return {};
  return {
    'plan.json': { bytes: plan.json.length, sha256: await sha256Hex(plan.json) },
    'plan.bin': { bytes: plan.weights.length, sha256: await sha256Hex(plan.weights) },
  };
}
