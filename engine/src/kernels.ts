/**
 * What every kernel module (engine/dist/gemm-*.wasm) exports: the int8 GEMM of its build and the encoder kernels
 * shared by all builds (engine/assembly/encoder.ts). Pointers are byte offsets into `memory`; 0 means "absent" for an
 * optional tensor.
 *
 * @example
 *   const kernels = await instantiateKernels(simd128Module);
 *   const x = kernels.alloc(rows * width * 4);
 */

export interface KernelExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  packedWeightBytes(k: number, n: number): number;
  packWeights(src: number, k: number, n: number, dst: number): void;
  scratchBytes(m: number, k: number): number;
  quantizeRows(x: number, m: number, k: number, a: number, scales: number): void;
  /** out[M, N] (+)= f32(sum (a - 128) w) * aScale * wScale + bias; wScale and bias padded to 8 columns. */
  gemm(
    a: number,
    m: number,
    k: number,
    n: number,
    w: number,
    aScale: number,
    wScale: number,
    bias: number,
    out: number,
    accumulate: number,
    scratch: number,
  ): void;
  activate(x: number, count: number, kind: number): void;
  embed(
    ids: number,
    types: number,
    starts: number,
    count: number,
    width: number,
    word: number,
    wordScales: number,
    position: number,
    positionOffset: number,
    tokenType: number,
    out: number,
  ): void;
  layerNorm(x: number, rows: number, width: number, gamma: number, beta: number, epsilon: number, out: number): void;
  addInPlace(x: number, y: number, count: number): void;
  attention(
    qkv: number,
    starts: number,
    count: number,
    heads: number,
    headDim: number,
    scale: number,
    context: number,
    scratch: number,
  ): void;
  pool(x: number, starts: number, count: number, width: number, mode: number, out: number): void;
  floatLinear(
    x: number,
    m: number,
    k: number,
    n: number,
    w: number,
    bias: number,
    out: number,
    accumulate: number,
  ): void;
  normalizeRows(x: number, rows: number, width: number): void;
  /** The exact relaxed build only (gemm-relaxed-exact.ts): its probe and its switch to one dot per product. */
  unsignedDotMismatches?(zero: number): number;
  useUnsignedDots?(enabled: number): void;
}

export type KernelActivation = 'relu' | 'gelu-erf' | 'gelu-tanh' | 'tanh';
export type KernelPooling = 'mean' | 'cls' | 'max' | 'mean_sqrt_len';

export interface Kernels extends KernelExports {
  /** Whether gemm takes one relaxed dot per product (see {@link chooseDots}). */
  readonly unsignedDots: boolean;
  /** The `kind` codes of `activate`, as the module defines them. */
  readonly activations: Record<KernelActivation, number>;
  /** The `mode` codes of `pool`. */
  readonly poolings: Record<KernelPooling, number>;
}

/**
 * Switches the exact relaxed build to one dot per product where its probe finds this runtime's relaxed dot exact on
 * unsigned weight bytes (x64 V8 with AVX-VNNI); elsewhere, or with `unsignedDots: false`, it keeps two dots per product.
 * Both give the same integers. Returns whether the module now takes one dot; false for builds without the switch.
 */
export function chooseDots(exports: KernelExports, options: { unsignedDots?: boolean } = {}): boolean {
  if (!exports.unsignedDotMismatches || !exports.useUnsignedDots) return false;
  const unsigned = options.unsignedDots !== false && exports.unsignedDotMismatches(0) === 0;
  exports.useUnsignedDots(unsigned ? 1 : 0);
  return unsigned;
}

/** Instantiates a compiled kernel module (a module, never bytes: workerd forbids compiling wasm at run time). */
export async function instantiateKernels(module: WebAssembly.Module): Promise<Kernels> {
  const instance = await WebAssembly.instantiate(module, {});
  const exports = instance.exports as unknown as KernelExports & Record<string, WebAssembly.Global>;
  const code = (name: string) => exports[name].value as number;
  return {
    ...exports,
    unsignedDots: chooseDots(exports),
    activations: {
      relu: code('ACTIVATION_RELU'),
      'gelu-erf': code('ACTIVATION_GELU_ERF'),
      'gelu-tanh': code('ACTIVATION_GELU_TANH'),
      tanh: code('ACTIVATION_TANH'),
    },
    poolings: {
      mean: code('POOL_MEAN'),
      cls: code('POOL_CLS'),
      max: code('POOL_MAX'),
      mean_sqrt_len: code('POOL_MEAN_SQRT_LEN'),
    },
  };
}
