import { Command } from 'commander';
import { vi } from 'vitest';
import { registerEvalCommand } from '../../src/commands/eval.js';

/** Runs `edge-embed eval ...` in-process; returns what it printed (commander's own error output is silenced). */
export async function runEval(args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerEvalCommand(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  try {
    await program.parseAsync(['node', 'edge-embed', 'eval', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}
