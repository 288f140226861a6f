/**
 * A value created on first use, once: concurrent first callers share the one pending creation, and a failed creation
 * is forgotten so a later call tries again.
 */
export class Lazy<T> {
  private pending: Promise<T> | undefined;
  private created = false;

  constructor(private readonly create: () => Promise<T>) {}

  /** True once creation has succeeded. */
  get ready(): boolean {
    return this.created;
  }

  /** @example const model = new Lazy(() => loadModel()); await model.get() // loads once */
  get(): Promise<T> {
    this.pending ??= this.create().then(
      (value) => {
        this.created = true;
        return value;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }
}
