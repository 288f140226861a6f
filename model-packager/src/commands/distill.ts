/**
 * `edge-embed distill <teacher-bundle-dir> --out <dir>`: a static bundle (one int8 vector per vocabulary piece,
 * averaged at run time, no ONNX Runtime) distilled from a transformer bundle. With --sts, the teacher and the static
 * bundle are both scored on an STS file after the write.
 */
import { type Command, Option } from 'commander';
import { type DistillOptions, distill } from '../distill/distill.js';
import { teacherEmbedder } from '../distill/measure.js';
import { readTeacherBundle } from '../distill/teacher-bundle.js';
import { bundleEmbedder, type SentenceEmbedder } from '../eval/embedders.js';
import { evaluateSts, type StsResult } from '../eval/evaluate-sts.js';
import { readStsFile, type StsPair } from '../eval/sts.js';
import { createReporter, type Reporter } from '../report/reporter.js';
import { positiveInteger } from './options.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** The library's options as commander gives them (--out for outDir), plus what only the command does. */
interface DistillCommandOptions extends Omit<DistillOptions, 'teacherDir' | 'outDir'> {
  out: string;
  sts?: string;
  json?: boolean;
}

/** Adds the `distill` subcommand to the edge-embed program. */
export function registerDistillCommand(program: Command): void {
  program
    .command('distill')
    .description('distill a static embedding bundle (a vector per vocabulary piece, no transformer) from a bundle')
    .argument('<teacher-bundle-dir>', 'a transformer bundle (manifest.json, model.onnx, tokenizer.json)')
    .requiredOption('-o, --out <dir>', 'where to write manifest.json, embeddings.bin and tokenizer.json')
    .option('--dims <n>', "dimensions after PCA (default: the teacher's)", positiveInteger('--dims'))
    .option('--no-pca', "keep the teacher's vectors as they are (no centring or projection)")
    .addOption(
      new Option('--weighting <scheme>', 'SIF frequency weighting of the pieces, or none')
        .choices(['sif', 'none'])
        .default('sif'),
    )
    .option('--corpus <file>', 'text whose token counts give the piece frequencies (repeatable)', collect, [])
    .option('--word-frequencies <file>', 'word frequency list ("word count" per line, or JSON) for the frequencies')
    .option(
      '--max-vocab <n>',
      "keep at most this many pieces (pack's pruning; by frequency, else by the Unigram scores)",
      positiveInteger('--max-vocab'),
    )
    .option('--name <name>', 'model name in the manifest (default: the teacher\'s + "-static")')
    .option('--sts <file>', 'also score the teacher and the static bundle on an STS Benchmark-format file')
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)')
    .action(async (teacherDir: string, opts: DistillCommandOptions) => {
      const reporter = createReporter({ json: Boolean(opts.json) });
      // Read every input before any work, so a bad one fails before anything is written.
      const pairs = opts.sts === undefined ? undefined : await readStsFile(opts.sts);
      const options: DistillOptions = { teacherDir, outDir: opts.out, ...opts };
      const started = performance.now();
      const result = await distill(options, reporter);
      const seconds = (performance.now() - started) / 1000;
      const sts = pairs === undefined ? undefined : await scoreBoth(teacherDir, opts.out, pairs, reporter);
      const { manifest } = result;
      if (opts.json) {
        console.log(JSON.stringify({ out: opts.out, seconds, pieces: result.pieces, manifest, sts }, null, 2));
        return;
      }
      const info = manifest.static;
      reporter.note(
        `${manifest.modelName}: ${info.rows} rows x ${manifest.dimensions} dims, ${(manifest.bytes.total / 1048576).toFixed(2)} MiB, ` +
          `weighting ${info.weighting.scheme} (${info.weighting.source}), PCA ${info.pcaDimensions ?? 'off'}`,
      );
      reporter.note(
        `agreement with the teacher: pairwise cosine Spearman ${info.agreement?.pairwiseSpearman.toFixed(4)} on ${info.agreement?.sentences} held-out sentences`,
      );
      if (sts !== undefined) {
        reporter.note(
          `STS (${opts.sts}): static Spearman ${sts.static.spearman.toFixed(4)}, teacher ${sts.teacher.spearman.toFixed(4)} ` +
            `(${((100 * sts.static.spearman) / sts.teacher.spearman).toFixed(1)}%)`,
        );
      }
    });
}

async function scoreBoth(
  teacherDir: string,
  staticDir: string,
  pairs: StsPair[],
  reporter: Reporter,
): Promise<{ teacher: StsResult; static: StsResult }> {
  const step = reporter.step('score the teacher and the static bundle on STS');
  const teacher = await withEmbedder(await teacherEmbedder(await readTeacherBundle(teacherDir)), (e) =>
    evaluateSts(e, pairs),
  );
  const student = await withEmbedder(await bundleEmbedder(staticDir), (e) => evaluateSts(e, pairs));
  step.done();
  return { teacher, static: student };
}

async function withEmbedder<T>(embedder: SentenceEmbedder, use: (e: SentenceEmbedder) => Promise<T>): Promise<T> {
  try {
    return await use(embedder);
  } finally {
    await embedder.close();
  }
}
