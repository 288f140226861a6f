/**
 * Experiment (docs/performance.md, "Where the time goes"): onnxruntime-node's own profiler on a bundle's graph, one
 * thread, 30 runs; prints the share of kernel time per operator type. Native kernels differ from the WASM build's,
 * so this shows the graph's structure (how much is the int8 products against the small ops around them), not WASM time.
 *
 *   npx tsx bench/experiments/native-profile.ts [bundles/minilm-fixture] [--batch 32] [--length 128]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { batch: { type: 'string', default: '32' }, length: { type: 'string', default: '128' } },
});
const modelPath = join(positionals[0] ?? 'bundles/minilm-fixture', 'model.onnx');
const [batch, length, runs] = [Number(values.batch), Number(values.length), 30];
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');
const scratch = mkdtempSync(join(tmpdir(), 'edge-embed-profile-'));
try {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: join(scratch, 'profile'),
  });
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  for (const name of session.inputNames) {
    const value = (i: number) =>
      name === 'input_ids' ? BigInt(100 + ((i * 37) % 7000)) : name === 'attention_mask' ? 1n : 0n;
    feeds[name] = new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * length }, (_, i) => value(i)),
      [batch, length],
    );
  }
  for (let run = 0; run < runs; run++) await session.run(feeds);
  await session.endProfiling();
  const file = readdirSync(scratch).find((name) => name.endsWith('.json'));
  if (!file) throw new Error('onnxruntime wrote no profile');
  const events = (
    JSON.parse(readFileSync(join(scratch, file), 'utf8')) as Array<{
      cat: string;
      name: string;
      dur: number;
      args: { op_name?: string };
    }>
  ).filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time'));
  const byOp = new Map<string, number>();
  for (const event of events)
    byOp.set(event.args.op_name ?? '?', (byOp.get(event.args.op_name ?? '?') ?? 0) + event.dur);
  const total = [...byOp.values()].reduce((sum, us) => sum + us, 0);
  console.log(
    `${modelPath}, ${batch} x ${length} tokens, ${runs} runs: ${(total / runs / 1000).toFixed(1)} ms of kernel time per run`,
  );
  console.log('| operator | share |');
  console.log('|---|---:|');
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]))
    console.log(`| ${op} | ${((100 * us) / total).toFixed(1)}% |`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
