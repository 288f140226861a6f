/**
 * `edge-embed eval --sts <file> (--bundle <dir> | --model-dir <dir> | --reference-use)`: Spearman and Pearson of
 * cosine similarity against the gold scores of an STS-Benchmark-format file, for a packed bundle, an unpacked fp32
 * model folder, or the reference Universal Sentence Encoder (tfjs), so one command gives every figure.
 */
import type { Command } from 'commander';
import { PackError } from '../errors.js';
import { bundleEmbedder, modelDirEmbedder, referenceUseEmbedder, type SentenceEmbedder } from '../eval/embedders.js';
import { evaluateSts } from '../eval/evaluate-sts.js';
import { readStsFile } from '../eval/sts.js';
import { positiveInteger } from './options.js';

interface EvalCommandOptions {
  sts: string;
  bundle?: string;
  modelDir?: string;
  referenceUse?: boolean;
  batchSize: number;
  json?: boolean;
}

function checkOneModel(opts: EvalCommandOptions): void {
  const chosen = [opts.bundle, opts.modelDir, opts.referenceUse].filter(Boolean).length;
  if (chosen !== 1)
    throw new PackError('bad-option', 'give exactly one of --bundle <dir>, --model-dir <dir>, --reference-use');
}

async function embedderFor(opts: EvalCommandOptions): Promise<SentenceEmbedder> {
  if (opts.bundle) return bundleEmbedder(opts.bundle, opts.batchSize);
  if (opts.modelDir) return modelDirEmbedder(opts.modelDir, opts.batchSize);
  return referenceUseEmbedder(opts.batchSize);
}

/** Adds the `eval` subcommand to the edge-embed program. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'Spearman / Pearson of cosine similarity on an STS Benchmark-format file (tab-separated: score in column 5, sentences in 6 and 7)',
    )
    .requiredOption('--sts <file>', 'STS-format file, e.g. stsbenchmark/sts-dev.csv')
    .option('--bundle <dir>', 'a packed bundle (manifest.json, model.onnx, tokenizer.json)')
    .option(
      '--model-dir <dir>',
      'an unpacked fp32 model folder (model.onnx + tokenizer.json + sentence-transformers files)',
    )
    .option('--reference-use', 'the reference Universal Sentence Encoder Lite (tfjs, @energetic-ai/embeddings)')
    .option('--batch-size <n>', 'sentences per inference call', positiveInteger('--batch-size'), 32)
    .option('--json', 'print the result as JSON')
    .action(async (opts: EvalCommandOptions) => {
      checkOneModel(opts);
      const pairs = await readStsFile(opts.sts);
      const embedder = await embedderFor(opts);
      try {
        const result = await evaluateSts(embedder, pairs);
        if (opts.json) {
          console.log(JSON.stringify({ sts: opts.sts, ...result }, null, 2));
          return;
        }
        console.log(
          `${result.model}\n  ${opts.sts}: ${result.pairs} pairs (${result.sentences} sentences)\n` +
            `  Spearman ${result.spearman.toFixed(4)}  Pearson ${result.pearson.toFixed(4)}  (${result.seconds.toFixed(1)} s embedding)`,
        );
      } finally {
        await embedder.close();
      }
    });
}
