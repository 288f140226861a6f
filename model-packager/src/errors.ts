/**
 * Every failure the packager reports to a user is a PackError with a kind. The CLI (cli.ts) prints its message as one
 * line, plus any details, and exits 1 whatever the kind, as for any other failure; the kind lets callers and tests tell
 * failures apart without parsing messages.
 */
export type PackErrorKind =
  | 'missing-input'
  | 'corrupt-onnx'
  | 'vocab-mismatch'
  | 'unsupported-graph'
  | 'bad-option'
  | 'fidelity'
  | 'budget'
  | 'bad-input';

export class PackError extends Error {
  readonly kind: PackErrorKind;
  /** Extra lines (e.g. a size breakdown) printed under the one-line message. */
  readonly details: string[];

  constructor(kind: PackErrorKind, message: string, details: string[] = []) {
    super(message);
    this.name = 'PackError';
    this.kind = kind;
    this.details = details;
  }
}
