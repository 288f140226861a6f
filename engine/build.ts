/**
 * Compiles the int8 GEMM kernels (engine/assembly) to engine/dist/*.wasm with AssemblyScript's compiler from npm.
 * Skipped when every output is newer than every source. `npm run build:engine`, or imported by the benchmark and tests.
 *
 *   tsx engine/build.ts
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import asc from 'assemblyscript/asc';

const sources = join(import.meta.dirname, 'assembly');
export const engineDist = join(import.meta.dirname, 'dist');

/** The kernel modules: the relaxed-SIMD one and its SIMD128-only fallback, which must not contain relaxed opcodes. */
const kernels = [
  { entry: 'gemm-relaxed.ts', output: 'gemm-relaxed.wasm', features: ['simd', 'relaxed-simd'] },
  { entry: 'gemm-simd128.ts', output: 'gemm-simd128.wasm', features: ['simd'] },
  // Exact int8 weights on relaxed SIMD (two dots per product): benchmarked to price exactness.
  { entry: 'gemm-relaxed-exact.ts', output: 'gemm-relaxed-exact.wasm', features: ['simd', 'relaxed-simd'] },
];

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds what is out of date; returns the paths of the modules. */
export async function buildEngine(): Promise<{ relaxed: string; simd128: string; relaxedExact: string }> {
  mkdirSync(engineDist, { recursive: true });
  const newestSource = Math.max(
    ...readdirSync(sources).map((file) => mtime(join(sources, file))),
    mtime(import.meta.filename),
  );
  for (const kernel of kernels) {
    const output = join(engineDist, kernel.output);
    if (mtime(output) > newestSource) continue;
    const { error, stderr } = await asc.main([
      join(sources, kernel.entry),
      '--outFile',
      output,
      '-O3',
      '--noAssert',
      // No GC, no abort import: the module instantiates with no imports and never frees.
      '--runtime',
      'stub',
      '--use',
      'abort=',
      ...kernel.features.flatMap((feature) => ['--enable', feature]),
    ]);
    if (error) throw new Error(`asc ${kernel.entry}: ${error.message}\n${stderr.toString()}`);
  }
  return {
    relaxed: join(engineDist, 'gemm-relaxed.wasm'),
    simd128: join(engineDist, 'gemm-simd128.wasm'),
    relaxedExact: join(engineDist, 'gemm-relaxed-exact.wasm'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const built = await buildEngine();
  console.log(`built ${Object.values(built).join(', ')}`);
}
