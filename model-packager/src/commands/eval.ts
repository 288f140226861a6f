/**
 * `edge-embed eval (--sts <file> | --retrieval <file> | --retrieval-from-sts <file>) (--bundle <dir> | --model-dir <dir>
 * | --reference-use)`: Spearman and Pearson of cosine similarity against the gold scores of an STS-Benchmark-format
 * file, and/or recall@k and MRR on a relevance file (format in eval/retrieval.ts), for a packed bundle (transformer or
 * static), an unpacked fp32 model folder, or the reference Universal Sentence Encoder (tfjs).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { PackError } from '../errors.js';
import {
  type BundleEngine,
  bundleEmbedder,
  modelDirEmbedder,
  referenceUseEmbedder,
  type SentenceEmbedder,
} from '../eval/embedders.js';
import { evaluateSts, type StsResult } from '../eval/evaluate-sts.js';
import {
  evaluateRetrieval,
  type RetrievalResult,
  type RetrievalSet,
  readRetrievalFile,
  retrievalFromSts,
} from '../eval/retrieval.js';
import { readStsFile, type StsPair } from '../eval/sts.js';
import { positiveInteger } from './options.js';

interface EvalCommandOptions {
  sts?: string;
  retrieval?: string;
  retrievalFromSts?: string;
  k: number[];
  rerankWith?: string;
  rerankTopK?: number;
  bundle?: string;
  modelDir?: string;
  referenceUse?: boolean;
  batchSize: number;
  engine: BundleEngine;
  json?: boolean;
}

function checkOneModel(opts: EvalCommandOptions): void {
  const chosen = [opts.bundle, opts.modelDir, opts.referenceUse].filter(Boolean).length;
  if (chosen !== 1)
    throw new PackError('bad-option', 'give exactly one of --bundle <dir>, --model-dir <dir>, --reference-use');
  if (!opts.sts && !opts.retrieval && !opts.retrievalFromSts)
    throw new PackError('bad-option', 'give --sts <file>, --retrieval <file> or --retrieval-from-sts <file>');
  if (opts.retrieval && opts.retrievalFromSts)
    throw new PackError('bad-option', 'give one of --retrieval and --retrieval-from-sts, not both');
  if ((opts.rerankWith === undefined) !== (opts.rerankTopK === undefined))
    throw new PackError('bad-option', '--rerank-with and --rerank-top-k go together');
  if (opts.engine !== 'ort' && !opts.bundle) throw new PackError('bad-option', '--engine goes with --bundle');
  if (opts.rerankWith && !opts.retrieval && !opts.retrievalFromSts)
    throw new PackError('bad-option', '--rerank-with needs --retrieval or --retrieval-from-sts');
}

const kList = (value: string): number[] => {
  const ks = value.split(',').map((part) => Number(part.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isSafeInteger(k) || k < 1))
    throw new InvalidArgumentError('--k must be a comma-separated list of positive integers, e.g. 1,5,10');
  return ks;
};

/** Every input read before any model loads, so a bad file fails fast. */
async function readInputs(opts: EvalCommandOptions): Promise<{ pairs?: StsPair[]; retrieval?: RetrievalSet }> {
  const pairs = opts.sts ? await readStsFile(opts.sts) : undefined;
  if (opts.retrieval) return { pairs, retrieval: await readRetrievalFile(opts.retrieval) };
  if (opts.retrievalFromSts) return { pairs, retrieval: retrievalFromSts(await readStsFile(opts.retrievalFromSts)) };
  return { pairs };
}

async function retrievalResult(
  embedder: SentenceEmbedder,
  set: RetrievalSet,
  opts: EvalCommandOptions,
): Promise<RetrievalResult> {
  if (opts.rerankWith === undefined || opts.rerankTopK === undefined) return evaluateRetrieval(embedder, set, opts.k);
  const second = await bundleEmbedder(opts.rerankWith, opts.batchSize);
  try {
    return await evaluateRetrieval(embedder, set, opts.k, { embedder: second, topK: opts.rerankTopK });
  } finally {
    await second.close();
  }
}

function printRetrieval(result: RetrievalResult, file: string): void {
  const recall = Object.entries(result.recall)
    .map(([k, value]) => `recall@${k} ${value.toFixed(4)}`)
    .join('  ');
  const rerank = result.rerank ? `, top ${result.rerank.topK} re-scored by ${result.rerank.model}` : '';
  console.log(
    `${result.model}${rerank}\n  ${file}: ${result.queries} queries, ${result.documents} documents\n  ${recall}  MRR ${result.mrr.toFixed(4)}`,
  );
}

async function embedderFor(opts: EvalCommandOptions): Promise<SentenceEmbedder> {
  if (opts.bundle) return bundleEmbedder(opts.bundle, opts.batchSize, opts.engine);
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
    .option('--sts <file>', 'STS-format file, e.g. stsbenchmark/sts-dev.csv')
    .option(
      '--retrieval <file>',
      'relevance file: JSON {"documents": {id: text}, "queries": [{"text": query, "relevant": [id, ...]}]}',
    )
    .option('--retrieval-from-sts <file>', 'retrieval set made from an STS file: pairs with gold >= 4 are the queries')
    .option('--k <list>', 'recall cut-offs for retrieval', kList, [1, 5, 10])
    .option('--rerank-with <bundle-dir>', 'retrieval in two stages: this bundle re-scores the top --rerank-top-k')
    .option(
      '--rerank-top-k <n>',
      'documents the second stage re-scores (with --rerank-with)',
      positiveInteger('--rerank-top-k'),
    )
    .option('--bundle <dir>', 'a bundle: packed (model.onnx) or static (embeddings.bin)')
    .option(
      '--model-dir <dir>',
      'an unpacked fp32 model folder (model.onnx + tokenizer.json + sentence-transformers files)',
    )
    .option('--reference-use', 'the reference Universal Sentence Encoder Lite (tfjs, @energetic-ai/embeddings)')
    .option('--batch-size <n>', 'sentences per inference call', positiveInteger('--batch-size'), 32)
    .addOption(
      new Option('--engine <name>', "the bundle's engine: onnxruntime on model.onnx, or the plan engine on plan.json")
        .choices(['ort', 'plan'])
        .default('ort'),
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: EvalCommandOptions) => {
      checkOneModel(opts);
      const inputs = await readInputs(opts);
      const embedder = await embedderFor(opts);
      try {
        const sts: StsResult | undefined = inputs.pairs ? await evaluateSts(embedder, inputs.pairs) : undefined;
        const retrieval = inputs.retrieval ? await retrievalResult(embedder, inputs.retrieval, opts) : undefined;
        const retrievalFile = opts.retrieval ?? opts.retrievalFromSts;
        if (opts.json) {
          const retrievalJson = retrieval && { retrieval: { file: retrievalFile, ...retrieval } };
          console.log(JSON.stringify(sts ? { sts: opts.sts, ...sts, ...retrievalJson } : retrievalJson, null, 2));
          return;
        }
        if (sts) {
          console.log(
            `${sts.model}\n  ${opts.sts}: ${sts.pairs} pairs (${sts.sentences} sentences)\n` +
              `  Spearman ${sts.spearman.toFixed(4)}  Pearson ${sts.pearson.toFixed(4)}  (${sts.seconds.toFixed(1)} s embedding)`,
          );
        }
        if (retrieval) printRetrieval(retrieval, retrievalFile as string);
      } finally {
        await embedder.close();
      }
    });
}
