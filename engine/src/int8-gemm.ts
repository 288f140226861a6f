/**
 * The host side of the int8 GEMM kernels in engine/assembly: copies tensors into the module's memory, packs weights
 * once, runs out[M, N] = (A - 128) x W with per-row activation and per-column weight scales (`run`), or quantizes fp32
 * activations per row first (`runFloat`, a whole int8 linear layer).
 * The kernels export the same functions, so one class drives any of them; the caller picks the module (relaxed SIMD
 * where the runtime validates it, SIMD128 otherwise) and, for the relaxed one, weights in [-63, 63].
 *
 * @example
 *   const gemm = await Int8Gemm.create(relaxedModule);
 *   const w = gemm.packWeights(values, scales, 384, 1536);
 *   const out = gemm.run(w, activations, rowScales, 12); // Float32Array of 12 x 1536
 */
import { chooseDots, type KernelExports } from './kernels.js';

/** Weights packed in the module's memory for one kernel. */
export interface PackedWeights {
  readonly k: number;
  readonly n: number;
  readonly values: number;
  readonly scales: number;
  /** Zeros, padded like the scales: this class runs the GEMM without a bias. */
  readonly bias: number;
}

/** Per-call buffers, grown to the largest call seen (the stub runtime never frees, so they are reused). */
interface Buffers {
  m: number;
  k: number;
  n: number;
  x: number;
  a: number;
  aScale: number;
  out: number;
  scratch: number;
}

export class Int8Gemm {
  private buffers: Buffers = { m: 0, k: 0, n: 0, x: 0, a: 0, aScale: 0, out: 0, scratch: 0 };

  private constructor(
    private readonly kernel: KernelExports,
    /** Whether the exact relaxed build takes one dot per product here (kernels.ts, chooseDots). */
    readonly unsignedDots: boolean,
  ) {}

  /**
   * Instantiates a compiled kernel module (a module, never bytes: workerd forbids compiling wasm at run time).
   * `unsignedDots: false` keeps the exact relaxed build on two dots per product even where one is exact.
   */
  static async create(module: WebAssembly.Module, options: { unsignedDots?: boolean } = {}): Promise<Int8Gemm> {
    const instance = await WebAssembly.instantiate(module, {});
    const kernel = instance.exports as unknown as KernelExports;
    return new Int8Gemm(kernel, chooseDots(kernel, options));
  }

  /** Copies row-major W[K, N] and its N column scales in and packs them. */
  packWeights(values: Int8Array, scales: Float32Array, k: number, n: number): PackedWeights {
    if (values.length !== k * n || scales.length !== n)
      throw new RangeError(`packWeights: expected ${k} x ${n} values and ${n} scales`);
    const kernel = this.kernel;
    const source = kernel.alloc(values.length);
    new Int8Array(kernel.memory.buffer, source, values.length).set(values);
    const packed = kernel.alloc(kernel.packedWeightBytes(k, n));
    kernel.packWeights(source, k, n, packed);
    // Padded to a multiple of 8 columns: the kernel reads scales a whole 8-column block at a time.
    const padded = Math.ceil(n / 8) * 8;
    const scalePtr = kernel.alloc(padded * 4);
    new Float32Array(kernel.memory.buffer, scalePtr, padded).fill(0).set(scales);
    const bias = kernel.alloc(padded * 4);
    new Float32Array(kernel.memory.buffer, bias, padded).fill(0);
    return { k, n, values: packed, scales: scalePtr, bias };
  }

  /** out[M, N] = f32(sum_k (a[m, k] - 128) w[k, n]) * aScale[m] * wScale[n]; `a` is row-major uint8 [M, K]. */
  run(
    weights: PackedWeights,
    a: Uint8Array,
    aScale: Float32Array,
    m: number,
    out: Float32Array = new Float32Array(m * weights.n),
  ): Float32Array {
    const { k, n } = weights;
    if (a.length !== m * k || aScale.length !== m)
      throw new RangeError(`run: expected ${m} x ${k} activations and ${m} scales`);
    const buffers = this.reserve(m, k, n);
    const kernel = this.kernel;
    const memory = kernel.memory.buffer;
    new Uint8Array(memory, buffers.a, a.length).set(a);
    new Float32Array(memory, buffers.aScale, m).set(aScale);
    return this.multiply(weights, m, buffers, out);
  }

  /**
   * A whole int8 linear layer from fp32 activations x[M, K]: quantizes each row in the module (as the graphs do, see
   * quantize.ts) and multiplies.
   */
  runFloat(
    weights: PackedWeights,
    x: Float32Array,
    m: number,
    out: Float32Array = new Float32Array(m * weights.n),
  ): Float32Array {
    const { k, n } = weights;
    if (x.length !== m * k) throw new RangeError(`runFloat: expected ${m} x ${k} activations`);
    const buffers = this.reserve(m, k, n);
    const kernel = this.kernel;
    new Float32Array(kernel.memory.buffer, buffers.x, x.length).set(x);
    kernel.quantizeRows(buffers.x, m, k, buffers.a, buffers.aScale);
    return this.multiply(weights, m, buffers, out);
  }

  /** The GEMM over the quantized rows already in `buffers`, its result copied into `out`. */
  private multiply(weights: PackedWeights, m: number, buffers: Buffers, out: Float32Array): Float32Array {
    const kernel = this.kernel;
    const { k, n } = weights;
    kernel.gemm(
      buffers.a,
      m,
      k,
      n,
      weights.values,
      buffers.aScale,
      weights.scales,
      weights.bias,
      buffers.out,
      0,
      buffers.scratch,
    );
    out.set(new Float32Array(kernel.memory.buffer, buffers.out, m * n));
    return out;
  }

  private reserve(m: number, k: number, n: number): Buffers {
    const current = this.buffers;
    if (m <= current.m && k <= current.k && n <= current.n) return current;
    const kernel = this.kernel;
    const size = { m: Math.max(m, current.m), k: Math.max(k, current.k), n: Math.max(n, current.n) };
    this.buffers = {
      ...size,
      x: kernel.alloc(size.m * size.k * 4),
      a: kernel.alloc(size.m * size.k),
      aScale: kernel.alloc(size.m * 4),
      out: kernel.alloc(size.m * size.n * 4),
      scratch: kernel.alloc(kernel.scratchBytes(size.m, size.k)),
    };
    return this.buffers;
  }
}
