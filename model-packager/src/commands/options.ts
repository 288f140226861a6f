/**
 * The option-value parsers every command uses. A bad value is refused with one line that names the option, which
 * commander reports as a usage error. Numbers are read as Number() reads them, so `30000` and `3e4` both count.
 */
import { InvalidArgumentError } from 'commander';

function numberOption(name: string, expected: string, accepts: (n: number) => boolean): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !accepts(n)) throw new InvalidArgumentError(`${name} must be ${expected}`);
    return n;
  };
}

/**
 * A whole number from 1 to `max`.
 * @example .option('--batch-size <n>', 'sentences per inference call', positiveInteger('--batch-size'), 32)
 */
export function positiveInteger(name: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const expected = max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : `an integer from 1 to ${max}`;
  return numberOption(name, expected, (n) => Number.isSafeInteger(n) && n >= 1 && n <= max);
}

/** A whole number from 0, e.g. a seed. */
export function nonNegativeInteger(name: string): (value: string) => number {
  return numberOption(name, 'a non-negative integer', (n) => Number.isSafeInteger(n) && n >= 0);
}

/** A finite number above 0, e.g. a size in MiB. */
export function positiveNumber(name: string): (value: string) => number {
  return numberOption(name, 'a positive number', (n) => Number.isFinite(n) && n > 0);
}

/**
 * A `name=text` pair, collected into a record; the text may hold `=` and spaces, the name may not be empty.
 * @example .option('--prompt <name=text>', 'a prompt (repeatable)', promptOption('--prompt'), {})
 */
export function promptOption(
  name: string,
): (value: string, previous: Record<string, string>) => Record<string, string> {
  return (value, previous) => {
    const at = value.indexOf('=');
    const key = value.slice(0, at).trim();
    if (at < 0 || key === '') throw new InvalidArgumentError(`${name} must be name=text, e.g. ${name} 'query=query: '`);
    return { ...previous, [key]: value.slice(at + 1) };
  };
}
