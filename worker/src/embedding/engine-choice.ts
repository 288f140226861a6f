/**
 * Which engine runs a bundle: the ENGINE var's choice against what the bundle holds and what the entry was built
 * with. `auto` takes the encoder plan (bundle-format/encoder-plan.ts, run by bundle-runtime/plan-engine.ts) when the
 * bundle has one, else ONNX Runtime on model.onnx; `plan` and `ort` pin one. A static bundle always runs its table.
 * Plain TypeScript, so a Node test can drive it; the service loads only the files the chosen engine reads.
 */
import { type BundleManifest, isStaticManifest } from '../../../bundle-format/manifest.js';
import type { OrtRuntime } from '../../../bundle-runtime/ort-engine.js';

/** The values of the ENGINE var. */
export const ENGINE_CHOICES = ['auto', 'plan', 'ort'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

/** The engine that runs a bundle, as /info and /v1/models report it. */
export type EngineName = 'plan' | 'ort' | 'static';

/** What an entry was built with: ONNX Runtime (or its refusal, runtime/no-ort.ts) and the plan's kernel module. */
export interface EngineRuntime {
  ort: OrtRuntime;
  /**
   * The compiled int8 kernels the plan engine runs (engine/dist/gemm-relaxed-exact.wasm in workerd); absent in an
   * entry built without them, which then runs every bundle on ONNX Runtime.
   */
  planKernels?: WebAssembly.Module;
}

/** The engine for a bundle, or why the ENGINE var's choice cannot serve it (the API answers 503 with the reason). */
export type EngineDecision = { engine: EngineName } | { refused: string };

/** Whether the manifest lists the encoder plan's files (plan.json and plan.bin come together). */
function manifestHasPlan(manifest: BundleManifest): boolean {
  return manifest.files['plan.json'] !== undefined && manifest.files['plan.bin'] !== undefined;
}

/**
 * Why the plan cannot stand in for model.onnx in this bundle, or null when it can. The plan engine runs token type 0
 * only so far (it refuses others), which is all an embedding model is fed; a cross-encoder whose graph reads
 * token_type_ids gives its documents type 1 (its version-2 plan holds the table, the engine does not read it yet), so
 * ONNX Runtime scores it.
 */
function planProblem(manifest: BundleManifest, runtime: Pick<EngineRuntime, 'planKernels'>): string | null {
  if (!manifestHasPlan(manifest)) return 'the bundle has no encoder plan (plan.json and plan.bin)';
  if (runtime.planKernels === undefined) return "this worker's entry is built without the plan engine's kernels";
  if (manifest.kind === 'cross-encoder' && manifest.inputs.includes('token_type_ids')) {
    return 'the cross-encoder feeds token types 1 to documents, and the plan engine runs only token type 0 so far';
  }
  return null;
}

/**
 * @example chooseEngine(manifest, 'auto', runtime) // { engine: 'plan' } when the bundle has a plan
 * @example chooseEngine(manifestWithoutPlan, 'plan', runtime) // { refused: 'ENGINE=plan, but the bundle has no …' }
 */
export function chooseEngine(
  manifest: BundleManifest,
  choice: EngineChoice,
  runtime: Pick<EngineRuntime, 'planKernels'>,
): EngineDecision {
  if (isStaticManifest(manifest)) return { engine: 'static' };
  if (choice === 'ort') return { engine: 'ort' };
  const problem = planProblem(manifest, runtime);
  if (problem === null) return { engine: 'plan' };
  if (choice === 'auto') return { engine: 'ort' };
  return { refused: `ENGINE=plan, but ${problem}; set ENGINE=auto or ort to serve it with ONNX Runtime` };
}
