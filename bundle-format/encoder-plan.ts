/**
 * The encoder plan: a small declarative description of a packed transformer encoder (embeddings, layers, pooling,
 * head) that an engine can run without ONNX Runtime, plus one weights file (`plan.bin`) its tensors point into.
 * `edge-embed pack` lowers the packed graph into it (model-packager/src/passes/lower-encoder-plan.ts) when the graph
 * is one the plan can express; model.onnx stays in the bundle as the reference. Both files are listed in the manifest
 * and covered by the content hash. Bump {@link ENCODER_PLAN_VERSION} for any change an older reader could misread: a
 * reader refuses a plan of another version rather than compute wrong vectors.
 *
 * Versions: 1, the first; 2 added the per-token token-type table (a cross-encoder's query and document rows). The
 * packager writes the lowest version that expresses a plan, so an embedder's plan is still version 1 (byte for byte
 * what it was) and only a plan that reads token types per token is version 2, which a version-1 reader refuses.
 */
import { z } from 'zod';
import { PoolingMode } from './manifest.js';

export const ENCODER_PLAN_VERSION = 2;

/** The versions this reader runs (see the header). */
export const READABLE_PLAN_VERSIONS: readonly number[] = [1, 2];

export const PLAN_FILES = { plan: 'plan.json', weights: 'plan.bin' } as const;

/** Tensors in plan.bin start at multiples of this many bytes (SIMD loads and typed-array views need alignment). */
export const PLAN_TENSOR_ALIGNMENT = 16;

const count = z.number().int().positive();

/** A tensor in plan.bin: little-endian, row-major, at a byte offset aligned to {@link PLAN_TENSOR_ALIGNMENT}. */
export const PlanTensor = z.object({
  dtype: z.enum(['int8', 'float32']),
  shape: z.array(count).min(1),
  offset: z.number().int().nonnegative().multipleOf(PLAN_TENSOR_ALIGNMENT),
});
export type PlanTensor = z.infer<typeof PlanTensor>;

/**
 * y = x W + b with W [inFeatures, outFeatures]. int8 weights carry one scale per output column (W ~ values x scale);
 * with `input` per-row-int8 each row of x is first quantized symmetrically to [-127, 127] with its own scale
 * max|x| / 127 (rounding half to even), as the int8-compute ONNX graph does.
 */
export const PlanLinear = z.object({
  inFeatures: count,
  outFeatures: count,
  weight: PlanTensor,
  /** float32 [outFeatures]; present exactly when the weight is int8. */
  scales: PlanTensor.nullable(),
  bias: PlanTensor.nullable(),
  input: z.enum(['per-row-int8', 'float']),
});
export type PlanLinear = z.infer<typeof PlanLinear>;

export const PlanLayerNorm = z.object({ gamma: PlanTensor, beta: PlanTensor, epsilon: z.number().positive() });
export type PlanLayerNorm = z.infer<typeof PlanLayerNorm>;

/**
 * One residual block: a = normBefore ? LN(x) : x; y = body(a) + (residual ? residual(x) : x);
 * out = normAfter ? LN(y) : y. BERT is post-norm (normAfter only), USE Lite pre-norm (normBefore only).
 */
const Block = {
  normBefore: PlanLayerNorm.nullable(),
  normAfter: PlanLayerNorm.nullable(),
};

export const PlanAttention = z.object({
  ...Block,
  heads: count,
  headDim: count,
  /** Fused projection: outFeatures = 3 x heads x headDim, columns [query | key | value]. */
  qkv: PlanLinear,
  /** Multiplies query . key before the softmax (1 / sqrt(headDim) in BERT). */
  scoreScale: z.number(),
  output: PlanLinear,
  /** A projection of x on the residual path, when the block changes the width (USE Lite's first layer). */
  residual: PlanLinear.nullable(),
});
export type PlanAttention = z.infer<typeof PlanAttention>;

export const PlanFeedForward = z.object({
  ...Block,
  up: PlanLinear,
  activation: z.enum(['gelu-erf', 'gelu-tanh', 'relu']),
  down: PlanLinear,
});
export type PlanFeedForward = z.infer<typeof PlanFeedForward>;

export const PlanEmbeddings = z.object({
  /** [vocabulary, width]; int8 rows with `wordScales` [vocabulary] (one per row), or float32. */
  word: PlanTensor,
  wordScales: PlanTensor.nullable(),
  /** [positions, width]; token i adds row i + positionOffset. */
  position: PlanTensor.nullable(),
  positionOffset: z.number().int().nonnegative(),
  /**
   * [width]: the token-type-0 row, added to every token (an embedder: the worker sends no token types); or, from
   * version 2, [types, width]: token t adds row tokenTypes[t] (a cross-encoder's pair: 0 for the query, 1 for the
   * document), row 0 when the caller gives no token types.
   */
  tokenType: PlanTensor.nullable(),
  norm: PlanLayerNorm.nullable(),
});
export type PlanEmbeddings = z.infer<typeof PlanEmbeddings>;

export const PlanDense = z.object({ linear: PlanLinear, activation: z.enum(['tanh', 'identity']) });
export type PlanDense = z.infer<typeof PlanDense>;

export const EncoderPlan = z
  .object({
    planVersion: z.union([z.literal(1), z.literal(2)]),
    /** Width of the token states leaving the last layer. */
    hidden: count,
    maxTokens: count,
    embeddings: PlanEmbeddings,
    /** The last layer's output (after its normAfter) is the token states that are pooled. */
    layers: z.array(z.object({ attention: PlanAttention, feedForward: PlanFeedForward })).min(1),
    pooling: PoolingMode,
    dense: z.array(PlanDense),
    normalize: z.boolean(),
    /** Bytes plan.bin must have. */
    weightBytes: z.number().int().nonnegative(),
  })
  .superRefine((plan, ctx) => {
    const shape = plan.embeddings.tokenType?.shape;
    const width = plan.embeddings.word.shape[1];
    const path = ['embeddings', 'tokenType', 'shape'];
    if (shape && (shape.length > 2 || (width !== undefined && shape[shape.length - 1] !== width))) {
      ctx.addIssue({ code: 'custom', path, message: `expected [width] or [types, width] with width ${width}` });
    } else if (shape?.length === 2 && plan.planVersion < 2) {
      ctx.addIssue({ code: 'custom', path, message: 'a per-token token-type table needs planVersion 2' });
    }
  });
export type EncoderPlan = z.infer<typeof EncoderPlan>;

/**
 * Rows of the plan's token-type table a caller may pick per token: 0 without one, 1 for the version-1 row every token
 * adds (token types other than 0 cannot be honoured), the table's rows from version 2.
 * @example tokenTypeRows(crossEncoderPlan) // 2
 */
export function tokenTypeRows(plan: EncoderPlan): number {
  const shape = plan.embeddings.tokenType?.shape;
  if (!shape) return 0;
  return shape.length === 2 ? shape[0] : 1;
}

/** Bytes a tensor occupies in plan.bin. */
export function planTensorBytes(tensor: PlanTensor): number {
  return tensor.shape.reduce((a, b) => a * b, 1) * (tensor.dtype === 'int8' ? 1 : 4);
}

/**
 * Parses plan.json, refusing another version, a malformed plan, or a tensor outside the weights (with the byte count of
 * plan.bin), with an Error naming what is wrong.
 * @example const plan = parseEncoderPlan(JSON.parse(text), weights.byteLength)
 */
export function parseEncoderPlan(json: unknown, weightBytes: number): EncoderPlan {
  const version = (json as { planVersion?: unknown } | null)?.planVersion;
  if (!READABLE_PLAN_VERSIONS.includes(version as number)) {
    throw new Error(
      `encoder plan version ${JSON.stringify(version)} is not supported (this reader knows ${READABLE_PLAN_VERSIONS.join(' and ')})`,
    );
  }
  const result = EncoderPlan.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid encoder plan: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (result.data.weightBytes !== weightBytes) {
    throw new Error(
      `invalid encoder plan: plan.bin has ${weightBytes} bytes, the plan expects ${result.data.weightBytes}`,
    );
  }
  for (const tensor of planTensors(result.data)) {
    if (tensor.offset + planTensorBytes(tensor) > weightBytes) {
      throw new Error(
        `invalid encoder plan: a tensor at byte ${tensor.offset} ends past plan.bin (${weightBytes} bytes)`,
      );
    }
  }
  return result.data;
}

/** Every tensor the plan points at. */
export function planTensors(plan: EncoderPlan): PlanTensor[] {
  const tensors: PlanTensor[] = [];
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const parsed = PlanTensor.safeParse(value);
    if (parsed.success && 'dtype' in value) tensors.push(parsed.data);
    else for (const child of Object.values(value)) walk(child);
  };
  walk(plan);
  return tensors;
}
