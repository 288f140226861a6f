/**
 * A value created on first use, once: concurrent first callers share the one pending creation, and a failed creation
 * is forgotten so a later call tries again.
 */
export class Lazy<T> {
  private pending: Promise<T> | undefined;
  private created = false;
  private value: T | undefined;

  constructor(private readonly create: () => Promise<T>) {}

  /** True once creation has succeeded. */
  get ready(): boolean {
    return this.created;
  }

  /** The created value, without waiting: undefined until creation has succeeded. */
  get current(): T | undefined {
    return this.value;
  }

  /** @example const model = new Lazy(() => loadModel()); await model.get() // loads once */
  get(): Promise<T> {
    this.pending ??= this.create().then(
      (value) => {
        this.created = true;
        this.value = value;
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
