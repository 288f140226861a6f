/**
 * The `edge-embed` command line: every packager command is a subcommand. Errors the packager knows about (PackError)
 * print one line (plus any breakdown) and exit 1; anything else is still one line, exit 1. Usage errors (an unknown or
 * missing option, a bad option value, as commander reports them) exit 2, as shells' builtins and getopt tools do;
 * --help exits 0.
 */
import { Command, CommanderError } from 'commander';
import { registerDistillCommand } from './commands/distill.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerFixtureCommand } from './commands/fixture.js';
import { registerImportUseCommand } from './commands/import-use.js';
import { registerPackCommand } from './commands/pack.js';
import { registerUploadBundleCommand } from './commands/upload-bundle.js';
import { PackError } from './errors.js';

const program = new Command();
program
  .name('edge-embed')
  .description('Pack sentence-embedding models for Cloudflare Workers and evaluate them')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerPackCommand(program);
registerFixtureCommand(program);
registerImportUseCommand(program);
registerEvalCommand(program);
registerUploadBundleCommand(program);
registerDistillCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander reports every refusal with its own exit code 1; --help and --version come through here with 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof PackError) {
    process.stderr.write(`edge-embed: error: ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`edge-embed: error: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
