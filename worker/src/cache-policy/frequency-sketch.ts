/**
 * How often each cache key was asked for lately: a count-min sketch with TinyLFU's aging (Einziger et al., "TinyLFU: A
 * Highly Efficient Cache Admission Policy"). Four rows of small saturating counters; an estimate is the smallest of a
 * key's four counters, so it can overcount (collisions) but never undercount since the last aging. After `sampleSize`
 * increments every counter is halved, so a text that was popular yesterday fades. Fixed memory (`width` x 4 bytes).
 */

const DEPTH = 4;
const MAX_COUNT = 15;

/**
 * FNV-1a over the key's UTF-16 code units with a seed, then murmur3's finalizer (FNV's low bits alone collide too
 * often for a power-of-two table): a 32-bit hash, not a cryptographic one.
 */
export function fnv1a(key: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export class FrequencySketch {
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private additions = 0;

  /**
   * @param width counters per row, rounded up to a power of two; about the number of distinct keys to tell apart.
   * @param sampleSize increments between agings (TinyLFU uses 10 x the cache's entries).
   * @example const sketch = new FrequencySketch(4096, 40_960)
   */
  constructor(
    width: number,
    readonly sampleSize = width * 10,
  ) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(width, 16)));
    this.counters = new Uint8Array(size * DEPTH);
    this.mask = size - 1;
  }

  /** Counts one access of `key`; returns its estimate afterwards. */
  increment(key: string): number {
    const slots = this.slots(key);
    const current = Math.min(...slots.map((slot) => this.counters[slot]));
    // Conservative update: only the counters at the minimum grow, which keeps collisions from inflating estimates.
    for (const slot of slots) if (this.counters[slot] === current && current < MAX_COUNT) this.counters[slot]++;
    if (++this.additions >= this.sampleSize) this.age();
    return Math.min(current + 1, MAX_COUNT);
  }

  /** Accesses of `key` since the last aging (halved at each), at most 15. */
  estimate(key: string): number {
    return Math.min(...this.slots(key).map((slot) => this.counters[slot]));
  }

  private age(): void {
    for (let i = 0; i < this.counters.length; i++) this.counters[i] >>= 1;
    this.additions = 0;
  }

  /** One slot per row from two hashes (Kirsch-Mitzenmacher double hashing). */
  private slots(key: string): number[] {
    const h1 = fnv1a(key, 0);
    const h2 = fnv1a(key, 0x9e3779b9) | 1;
    const width = this.mask + 1;
    return Array.from({ length: DEPTH }, (_, row) => row * width + ((h1 + Math.imul(row, h2)) & this.mask));
  }
}
