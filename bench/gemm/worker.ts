/**
 * A benchmark-only Workers entry: the int8 GEMM kernels and onnxruntime-web's MatMulInteger side by side in one
 * workerd. workerd's clock stands still while code runs, so each /time request runs `iters` products and the Node side
 * times the request (bench/gemm.ts).
 *
 *   GET  /health
 *   GET  /check                          { unsignedDots, kernels }: whether the exact relaxed build takes one dot per
 *                                        product here, and each kernel against the TypeScript reference on odd sizes
 *   POST /ort?kind=&k=&n=                body: an ONNX model (kind: matmul-integer | full | overhead)
 *   GET  /compare?m=&k=&n=               ORT MatMulInteger (int32, scaled here) against the SIMD128 kernel
 *   GET  /time?impl=&m=&k=&n=&iters=     impl: relaxed | relaxed-exact | relaxed-exact-split | simd128 (uint8 in),
 *                                        relaxed-full | simd128-full (fp32 in, quantized per token in the module),
 *                                        ort | ort-full | ort-overhead
 */
/// <reference path="../../worker/src/modules.d.ts" />
import relaxedModule from '../../engine/dist/gemm-relaxed.wasm';
import relaxedExactModule from '../../engine/dist/gemm-relaxed-exact.wasm';
import simd128Module from '../../engine/dist/gemm-simd128.wasm';
import { Int8Gemm, type PackedWeights } from '../../engine/src/int8-gemm.js';
import { checkKernel } from '../../engine/src/self-check.js';
import { workerdOrt } from '../../worker/src/runtime/ort-workerd.js';
import { benchActivations, benchWeights, floatActivations } from './data.js';

type Session = Awaited<ReturnType<typeof workerdOrt.createSession>>;
type Tensor = InstanceType<typeof workerdOrt.Tensor>;

const kernels = new Map<string, Promise<Int8Gemm>>();
const packed = new Map<string, PackedWeights>();
const sessions = new Map<string, Session>();
const inputs = new Map<string, Tensor>();
const activations = new Map<string, ReturnType<typeof benchActivations>>();
const floats = new Map<string, Float32Array>();

/** The value cached under `key`, made on first use. */
function memo<V>(map: Map<string, V>, key: string, make: () => V): V {
  const known = map.get(key);
  if (known !== undefined) return known;
  const made = make();
  map.set(key, made);
  return made;
}

function activationsFor(m: number, k: number): ReturnType<typeof benchActivations> {
  return memo(activations, `${m}x${k}`, () => benchActivations(m, k));
}

type KernelName = 'relaxed' | 'relaxed-exact' | 'relaxed-exact-split' | 'simd128';
const modules: Record<KernelName, WebAssembly.Module> = {
  relaxed: relaxedModule,
  // One dot per product where the probe allows it (kernels.ts, chooseDots), and the same module held to two.
  'relaxed-exact': relaxedExactModule,
  'relaxed-exact-split': relaxedExactModule,
  simd128: simd128Module,
};

function kernel(name: KernelName): Promise<Int8Gemm> {
  return memo(kernels, name, () => Int8Gemm.create(modules[name], { unsignedDots: name !== 'relaxed-exact-split' }));
}

async function weightsFor(name: KernelName, k: number, n: number): Promise<{ gemm: Int8Gemm; w: PackedWeights }> {
  const gemm = await kernel(name);
  const w = memo(packed, `${name}:${k}x${n}`, () => {
    const { int8, int7 } = benchWeights(k, n);
    const q = name === 'relaxed' ? int7 : int8;
    return gemm.packWeights(q.values, q.scales, k, n);
  });
  return { gemm, w };
}

/** ORT's input for a model kind: uint8 activations for MatMulInteger, fp32 for the full per-token path. */
function ortInput(kind: string, m: number, k: number): Tensor {
  return memo(inputs, `${kind}:${m}x${k}`, () =>
    kind === 'full'
      ? new workerdOrt.Tensor('float32', floatActivations(m, k), [m, k])
      : new workerdOrt.Tensor('uint8', activationsFor(m, k).values, [m, k]),
  );
}

function session(kind: string, k: number, n: number): Session {
  const found = sessions.get(`${kind}:${k}x${n}`);
  if (!found) throw new Error(`no ${kind} session for ${k}x${n}: POST /ort first`);
  return found;
}

async function time(impl: string, m: number, k: number, n: number, iters: number): Promise<number> {
  let checksum = 0;
  const layer = /^(relaxed|simd128)-full$/.exec(impl);
  if (layer) {
    const { gemm, w } = await weightsFor(layer[1] as KernelName, k, n);
    const x = memo(floats, `${m}x${k}`, () => floatActivations(m, k));
    const out = new Float32Array(m * n);
    for (let i = 0; i < iters; i++) checksum += gemm.runFloat(w, x, m, out)[i % out.length];
    return checksum;
  }
  if (impl in modules) {
    const { gemm, w } = await weightsFor(impl as KernelName, k, n);
    const a = activationsFor(m, k);
    const out = new Float32Array(m * n);
    for (let i = 0; i < iters; i++) checksum += gemm.run(w, a.values, a.scales, m, out)[i % out.length];
    return checksum;
  }
  const kind = impl === 'ort' ? 'matmul-integer' : impl === 'ort-full' ? 'full' : 'overhead';
  const inputK = kind === 'overhead' ? 8 : k;
  const s = session(kind, inputK, kind === 'overhead' ? 8 : n);
  const feeds = { [s.inputNames[0]]: ortInput(kind, m, inputK) };
  for (let i = 0; i < iters; i++) {
    const result = await s.run(feeds);
    const y = result[s.outputNames[0]];
    checksum += Number((y.data as Float32Array | Int32Array)[i % y.data.length]);
    y.dispose();
  }
  return checksum;
}

async function compare(m: number, k: number, n: number): Promise<{ maxAbsDifference: number; elements: number }> {
  const s = session('matmul-integer', k, n);
  const result = await s.run({ [s.inputNames[0]]: ortInput('matmul-integer', m, k) });
  const acc = result[s.outputNames[0]].data as Int32Array;
  const a = activationsFor(m, k);
  const { int8 } = benchWeights(k, n);
  const { gemm, w } = await weightsFor('simd128', k, n);
  const ours = gemm.run(w, a.values, a.scales, m);
  let maxAbsDifference = 0;
  for (let i = 0; i < acc.length; i++) {
    const ort = Math.fround(Math.fround(Math.fround(acc[i]) * a.scales[Math.floor(i / n)]) * int8.scales[i % n]);
    maxAbsDifference = Math.max(maxAbsDifference, Math.abs(ort - ours[i]));
  }
  return { maxAbsDifference, elements: acc.length };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const number = (name: string) => Number(url.searchParams.get(name));
    try {
      switch (url.pathname) {
        case '/health':
          return new Response('ok');
        case '/check':
          return Response.json({
            unsignedDots: (await kernel('relaxed-exact')).unsignedDots,
            kernels: {
              relaxed: await checkKernel(relaxedModule, 63),
              'relaxed-exact': await checkKernel(relaxedExactModule, 127),
              'relaxed-exact-split': await checkKernel(relaxedExactModule, 127, undefined, { unsignedDots: false }),
              simd128: await checkKernel(simd128Module, 127),
            },
          });
        case '/ort': {
          const kind = url.searchParams.get('kind') ?? '';
          const model = new Uint8Array(await request.arrayBuffer());
          sessions.set(`${kind}:${number('k')}x${number('n')}`, await workerdOrt.createSession(model));
          return Response.json({ ok: true });
        }
        case '/compare':
          return Response.json(await compare(number('m'), number('k'), number('n')));
        case '/time':
          return Response.json({
            checksum: await time(
              url.searchParams.get('impl') ?? '',
              number('m'),
              number('k'),
              number('n'),
              number('iters'),
            ),
          });
        default:
          return new Response('not found', { status: 404 });
      }
    } catch (error) {
      return new Response(String((error as Error).stack ?? error), { status: 500 });
    }
  },
};
