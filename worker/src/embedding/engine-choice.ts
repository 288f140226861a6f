/**
 * Which engine runs a bundle: the ENGINE var's choice against what the bundle holds and what the entry was built
 * with. `auto` takes the encoder plan (bundle-format/encoder-plan.ts, run by bundle-runtime/plan-engine.ts) when the
 * bundle has one the plan engine can run (a cross-encoder's: with a token-type row per type), else ONNX Runtime on
 * model.onnx; `plan` and `ort` pin one. A static bundle always runs its table.
 * Plain TypeScript, so a Node test can drive it; the service loads only the files the chosen engine reads.
 */
import { type EncoderPlan, tokenTypeRows } from '../../../bundle-format/encoder-plan.js';
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

/** Token types a cross-encoder's pair is fed: 0 for the query, 1 for the document. */
export const PAIR_TOKEN_TYPES = 2;

/** Whether the model is fed token types other than 0: a cross-encoder whose graph reads token_type_ids. */
function feedsPairTokenTypes(manifest: BundleManifest): boolean {
  return manifest.kind === 'cross-encoder' && manifest.inputs.includes('token_type_ids');
}

/**
 * Whether the choice depends on the plan itself, not only the manifest: a cross-encoder fed token types runs on the
 * plan only if the plan's token-type table has a row per type, so its caller reads plan.json (never plan.bin) first.
 */
export function choiceReadsPlan(
  manifest: BundleManifest,
  choice: EngineChoice,
  runtime: Pick<EngineRuntime, 'planKernels'>,
): boolean {
  return (
    choice !== 'ort' && manifestHasPlan(manifest) && runtime.planKernels !== undefined && feedsPairTokenTypes(manifest)
  );
}

/**
 * Why the plan cannot stand in for model.onnx in this bundle, or null when it can. An embedding model is fed token type
 * 0 only, which every plan holds (version 1: the one row every token adds). A cross-encoder whose graph reads
 * token_type_ids gives its documents type 1, so its plan needs the version-2 table with a row per type
 * ({@link tokenTypeRows} >= 2); a plan without it would score the documents as if they were queries, so ONNX Runtime
 * scores that bundle.
 */
function planProblem(
  manifest: BundleManifest,
  runtime: Pick<EngineRuntime, 'planKernels'>,
  plan: EncoderPlan | undefined,
): string | null {
  if (runtime.planKernels === undefined && manifestHasPlan(manifest))
    return "this worker's entry is built without the plan engine's kernels";
  return bundlePlanProblem(manifest, plan);
}

/**
 * {@link planProblem} for the bundle alone, whatever entry serves it (`tenant add --engine plan` checks a bundle with
 * it before it picks the entry built without ONNX Runtime).
 * @example bundlePlanProblem(crossEncoder, planWithOneTypeRow) // 'the cross-encoder feeds its documents token type 1, …'
 */
export function bundlePlanProblem(manifest: BundleManifest, plan: EncoderPlan | undefined): string | null {
  if (!manifestHasPlan(manifest)) return 'the bundle has no encoder plan (plan.json and plan.bin)';
  if (feedsPairTokenTypes(manifest)) {
    if (plan === undefined) return "the cross-encoder's encoder plan was not read to check its token-type table";
    const rows = tokenTypeRows(plan);
    if (rows < PAIR_TOKEN_TYPES) {
      return `the cross-encoder feeds its documents token type 1, and its encoder plan has ${rows} token-type row${rows === 1 ? '' : 's'} (it needs ${PAIR_TOKEN_TYPES}: a version-2 plan from \`edge-embed pack\`)`;
    }
  }
  return null;
}

/**
 * @param plan the bundle's encoder plan, read when {@link choiceReadsPlan} says the choice depends on it
 * @example chooseEngine(manifest, 'auto', runtime) // { engine: 'plan' } when the bundle has a plan
 * @example chooseEngine(manifestWithoutPlan, 'plan', runtime) // { refused: 'ENGINE=plan, but the bundle has no …' }
 * @example chooseEngine(crossEncoder, 'auto', runtime, planWithOneTypeRow) // { engine: 'ort' }
 */
export function chooseEngine(
  manifest: BundleManifest,
  choice: EngineChoice,
  runtime: Pick<EngineRuntime, 'planKernels'>,
  plan?: EncoderPlan,
): EngineDecision {
  if (isStaticManifest(manifest)) return { engine: 'static' };
  if (choice === 'ort') return { engine: 'ort' };
  const problem = planProblem(manifest, runtime, plan);
  if (problem === null) return { engine: 'plan' };
  if (choice === 'auto') return { engine: 'ort' };
  return { refused: `ENGINE=plan, but ${problem}; set ENGINE=auto or ort to serve it with ONNX Runtime` };
}
