/**
 * `edge-embed fixture <out-dir>`: writes a BERT-family model folder with seeded random weights (the project's stand-in
 * for a downloaded optimum export), so pack, the worker and the benchmarks can run without a model hub.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type Command, Option } from 'commander';
import { type BertFixtureOptions, FIXTURE_PRESETS, writeBertFixture } from '../fixtures/bert-fixture.js';
import { nonNegativeInteger } from './options.js';

interface FixtureCommandOptions {
  preset: keyof typeof FIXTURE_PRESETS;
  opset?: '14' | '17';
  tokenTypeIds: boolean;
  seed?: number;
  externalData?: boolean;
  pooling: 'mean' | 'cls' | 'max';
  normalize: boolean;
  json?: boolean;
}

async function listFiles(dir: string): Promise<{ path: string; bytes: number }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const sized = await Promise.all(
    files.map(async (file) => ({ path: relative(dir, file), bytes: (await stat(file)).size })),
  );
  return sized.sort((a, b) => a.path.localeCompare(b.path));
}

/** Adds the `fixture` subcommand to the edge-embed program. */
export function registerFixtureCommand(program: Command): void {
  program
    .command('fixture')
    .description(
      'write a BERT-family model folder (optimum export layout, seeded random weights, bert-base-uncased vocabulary; ' +
        'cased-bert: a cased vocabulary derived from it; roberta: GPT-2 byte-level BPE)',
    )
    .argument('<out-dir>', 'folder to write (created if missing)')
    .addOption(
      new Option(
        '--preset <name>',
        'tiny (BERT 2x32), minilm (all-MiniLM-L6-v2 size), roberta (2x64, byte-level BPE, no token_type_ids), ' +
          'albert (4 layers sharing weights, factorised 32-wide embeddings), cased-bert (2x48, cased WordPiece, no ' +
          'lower-casing) or cross-encoder (MiniLM-L6 size + one relevance logit, as ms-marco-MiniLM-L-6-v2)',
      )
        .choices(['tiny', 'minilm', 'roberta', 'albert', 'cased-bert', 'cross-encoder'])
        .default('tiny'),
    )
    .addOption(
      new Option(
        '--opset <n>',
        "17: LayerNormalization op; 14: decomposed LayerNorm (default: the preset's, 17)",
      ).choices(['14', '17']),
    )
    .option('--no-token-type-ids', 'leave out the token_type_ids input (DistilBERT-style)')
    .option('--seed <n>', "weight seed (default: the preset's, 42)", nonNegativeInteger('--seed'))
    .option('--external-data', 'write weights to model.onnx_data (ONNX external data) instead of inline')
    .addOption(
      new Option('--pooling <mode>', 'pooling written to 1_Pooling/config.json')
        .choices(['mean', 'cls', 'max'])
        .default('mean'),
    )
    .option('--no-normalize', 'leave Normalize out of modules.json')
    .option('--json', 'print the result as JSON')
    .action(async (outDir: string, opts: FixtureCommandOptions) => {
      const preset = FIXTURE_PRESETS[opts.preset];
      const options: BertFixtureOptions = {
        ...preset,
        opset: opts.opset ? (Number(opts.opset) as 14 | 17) : preset.opset,
        // RoBERTa has no token_type_ids input.
        tokenTypeIds: opts.tokenTypeIds && preset.tokenTypeIds,
        seed: opts.seed ?? preset.seed,
        pooling: opts.pooling,
        normalize: opts.normalize,
        externalData: Boolean(opts.externalData),
      };
      await writeBertFixture(outDir, options);
      const files = await listFiles(outDir);
      if (opts.json) {
        console.log(JSON.stringify({ outDir, preset: opts.preset, options, files }, null, 2));
        return;
      }
      const modelBytes = files.filter((f) => f.path.startsWith('model.onnx')).reduce((sum, f) => sum + f.bytes, 0);
      console.log(
        `fixture ${opts.preset} written to ${outDir}: ${(modelBytes / 2 ** 20).toFixed(1)} MiB of ONNX ` +
          `(opset ${options.opset}, ${options.layers} layers, hidden ${options.hidden}, ` +
          `${options.tokenTypeIds ? 'with' : 'without'} token_type_ids, ` +
          `${options.head ? `${options.head.labels} logit${options.head.labels > 1 ? 's' : ''}` : `${options.pooling} pooling`}` +
          `${options.normalize && !options.head ? ', normalized' : ''}${options.externalData ? ', external data' : ''})`,
      );
    });
}
