import { type Command, Option } from 'commander';
import { QuantizationMode } from '../../../bundle-format/manifest.js';
import { PACK_DEFAULTS, packModel } from '../pack.js';
import { createReporter } from '../report/reporter.js';
import { positiveInteger, positiveNumber, promptOption } from './options.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** `edge-embed pack <model-dir> --out <bundle-dir>`: the packager's main command. */
export function registerPackCommand(program: Command): void {
  program
    .command('pack')
    .description('shrink an fp32 ONNX sentence-embedding model into an int8, vocabulary-pruned bundle for a Worker')
    .argument(
      '<model-dir>',
      'folder with model.onnx, tokenizer.json or vocab.txt, config.json and the sentence-transformers files',
    )
    .requiredOption('-o, --out <bundle-dir>', 'where to write manifest.json, model.onnx and tokenizer.json')
    .option(
      '--corpus <file>',
      'text the vocabulary is pruned to (repeatable; plain text or one sentence per line)',
      collect,
      [],
    )
    .option('--word-frequencies <file>', 'word frequency list ("word count" per line, or JSON) as a pruning source')
    .option(
      '--max-vocab <n>',
      'keep at most this many tokens (needs --corpus or --word-frequencies)',
      positiveInteger('--max-vocab'),
    )
    .addOption(
      new Option(
        '--quantization <mode>',
        'int8-compute (MatMulInteger), int8-storage (int8 weights, fp32 compute) or none',
      )
        .choices(QuantizationMode.options)
        .default(PACK_DEFAULTS.quantization),
    )
    .option(
      '--eval-text <file>',
      'texts for the fidelity check (repeatable; default: the corpus, else built-in sentences)',
      collect,
      [],
    )
    .option(
      '--min-cosine <x>',
      'fail when the mean cosine to the original model is below this',
      Number,
      PACK_DEFAULTS.minCosine,
    )
    .option(
      '--min-spearman <x>',
      'cross-encoders: fail when the Spearman correlation of packed vs original pair scores is below this',
      Number,
      PACK_DEFAULTS.minSpearman,
    )
    .option(
      '--max-bytes <n>',
      'fail when model.onnx + tokenizer.json exceed this many bytes (default: 25 MiB, one KV value)',
      positiveInteger('--max-bytes'),
      PACK_DEFAULTS.maxBytes,
    )
    .option(
      '--max-heap-mb <n>',
      'fail when the WASM heap after session creation exceeds this (MiB)',
      positiveNumber('--max-heap-mb'),
      PACK_DEFAULTS.maxHeapBytes / 1048576,
    )
    .option('--name <name>', 'model name for the manifest and API responses (default: the folder name)')
    .option(
      '--prompt <name=text>',
      'a prompt requests can name (e5: query="query: "), added to or replacing config_sentence_transformers.json\'s (repeatable)',
      promptOption('--prompt'),
      {},
    )
    .option('--json', 'print the manifest and reports as JSON on stdout (progress goes to stderr)')
    .action(async (modelDir: string, opts) => {
      const reporter = createReporter({ json: Boolean(opts.json) });
      const result = await packModel(
        {
          modelDir,
          outDir: opts.out,
          corpus: opts.corpus,
          wordFrequencies: opts.wordFrequencies,
          maxVocab: opts.maxVocab,
          quantization: opts.quantization,
          evalText: opts.evalText,
          minCosine: opts.minCosine,
          minSpearman: opts.minSpearman,
          maxBytes: opts.maxBytes,
          maxHeapBytes: opts.maxHeapMb * 1048576,
          name: opts.name,
          prompts: opts.prompt,
        },
        reporter,
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    });
}
