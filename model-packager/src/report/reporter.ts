import cliProgress from 'cli-progress';

/** A running step: `done` prints its result line with the elapsed time. */
export interface Step {
  done(detail?: string): void;
}

/** A progress bar for a long loop; a no-op when the stream is not a terminal or in --json mode. */
export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

/** How the packager talks to the user: one line per step, a bar for long loops. */
export interface Reporter {
  step(label: string): Step;
  progress(label: string, total: number): Progress;
  note(line: string): void;
}

/**
 * Human output goes to stderr when `json` is set, so stdout carries only the machine-readable result.
 *
 * @example
 *   const reporter = createReporter({ json: false });
 *   const step = reporter.step('read model'); ...; step.done('6 layers');
 */
export function createReporter(options: { json: boolean; quiet?: boolean }): Reporter {
  const stream = options.json ? process.stderr : process.stdout;
  const write = (line: string) => {
    if (!options.quiet) stream.write(`${line}\n`);
  };
  return {
    step(label) {
      const started = performance.now();
      return {
        done(detail) {
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          write(`✓ ${label}${detail ? `: ${detail}` : ''} (${seconds}s)`);
        },
      };
    },
    progress(label, total) {
      if (options.quiet || options.json || !stream.isTTY || total < 2) return { tick() {}, stop() {} };
      const bar = new cliProgress.SingleBar(
        {
          format: `  ${label} [{bar}] {value}/{total} {eta_formatted}`,
          stream,
          clearOnComplete: true,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
      return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
    },
    note(line) {
      write(`  ${line}`);
    },
  };
}

/** A reporter that prints nothing (library use and tests). */
export const silentReporter: Reporter = createReporter({ json: false, quiet: true });
