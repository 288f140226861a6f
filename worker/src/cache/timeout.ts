/** A remote read that gives up after a deadline: the shared stores read a slow answer as a miss. */
export const TIMED_OUT = Symbol('timed out');

/**
 * The read's value, or TIMED_OUT if it has not settled within `timeoutMs` (a rejection still rejects).
 * @example const value = await withTimeout(kv.get(key, 'arrayBuffer'), 500) // TIMED_OUT after 500 ms
 */
export async function withTimeout<T>(read: Promise<T>, timeoutMs: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  try {
    return await Promise.race([read, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
