/**
 * `edge-embed eval --engine plan`: the plan engine (plan.json + plan.bin, SIMD128 kernels in Node) scored like the
 * ONNX Runtime path, so a bundle's STS figure can be checked on both engines. On the default bundle the issue asks
 * for STS-dev Spearman within 0.002 of the ORT path.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needs } from '../../../test/support/requirements.js';
import { runEval } from './run-eval.js';

const root = join(import.meta.dirname, '../../..');
const DEFAULT_BUNDLE = join(root, 'bundles/default');
const STS_DEV = join(root, '../shared/data/stsbenchmark/sts-dev.csv');

describe('edge-embed eval --engine', () => {
  it('refuses --engine without --bundle, and a bundle without a plan, in one line', async () => {
    await expect(runEval(['--reference-use', '--sts', STS_DEV, '--engine', 'plan'])).rejects.toThrow(
      /--engine goes with --bundle/,
    );
    await expect(
      runEval(['--bundle', join(root, 'bundles/static-default'), '--sts', STS_DEV, '--engine', 'nope']),
    ).rejects.toThrow(/Allowed choices are ort, plan/);
  });

  it.skipIf(needs(existsSync(join(DEFAULT_BUNDLE, 'plan.json')), 'bundles/default (npm run build)'))(
    'refuses --engine plan on a bundle without a plan and on a static bundle',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'eval-engine-'));
      try {
        for (const file of ['manifest.json', 'tokenizer.json', 'model.onnx'])
          await cp(join(DEFAULT_BUNDLE, file), join(dir, file));
        await writeFile(join(dir, 'pairs.tsv'), 'a\tb\tc\td\t5.0\tone cat\tone cat\na\tb\tc\td\t1.0\tone cat\ta car\n');
        const sts = join(dir, 'pairs.tsv');
        await expect(runEval(['--bundle', dir, '--sts', sts, '--engine', 'plan'])).rejects.toThrow(
          /has no encoder plan \(plan\.json, plan\.bin\); use --engine ort/,
        );
        expect(JSON.parse(await runEval(['--bundle', dir, '--sts', sts, '--json'])).pairs).toBe(2);
        await expect(
          runEval(['--bundle', join(root, 'bundles/static-default'), '--sts', sts, '--engine', 'plan']),
        ).rejects.toThrow(/is a static bundle: it has no engine to choose/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  describe.skipIf(
    needs(existsSync(join(DEFAULT_BUNDLE, 'plan.json')), 'bundles/default/plan.json (npm run build)') ||
      needs(existsSync(STS_DEV), `${STS_DEV} (../shared beside the clone)`),
  )('on the default bundle', () => {
    it('STS-dev Spearman of the plan engine is within 0.002 of the ORT path', { timeout: 240_000 }, async () => {
      const score = async (engine: string) =>
        JSON.parse(await runEval(['--bundle', DEFAULT_BUNDLE, '--sts', STS_DEV, '--engine', engine, '--json']));
      const ort = await score('ort');
      const plan = await score('plan');
      expect(plan.model).toContain('plan engine');
      expect(ort.model).not.toContain('plan engine');
      expect(plan.pairs).toBe(ort.pairs);
      expect(plan.pairs).toBeGreaterThan(1000);
      expect(Math.abs(plan.spearman - ort.spearman)).toBeLessThanOrEqual(0.002);
      console.log(`STS-dev Spearman: ORT ${ort.spearman.toFixed(5)}, plan engine ${plan.spearman.toFixed(5)}`);
    });
  });
});
