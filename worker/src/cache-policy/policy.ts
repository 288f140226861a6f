/**
 * The cache policy: per key, whether to read KV, whether to write KV and whether to use the Cache API, decided from the
 * cost model. Plain TypeScript with no I/O; the embedding cache asks it and does the reads and writes.
 *
 * - `always` (the worker before the cost policy): every LRU miss reads KV, every computed vector is written to KV.
 * - `off`: the in-isolate LRU only.
 * - `cost` (default): the Cache API (free, per data centre) takes every vector. KV is read only when the expected
 *   saving (by this isolate's hit rate for new or for popular texts) beats the read's price: the recompute it may spare (long texts, heavy models), the model load a fresh
 *   isolate may skip when all its misses are found, or a KV write it may make unnecessary. KV is written only for texts
 *   whose expected reuse pays for the write: asked for at least `admitAfter` times within the frequency sketch's window
 *   and at least as many times as writes-per-hit (a write's price over what one later KV hit saves: recomputing the
 *   text minus the read), once per text per isolate, never past the daily write budget. When a hit saves less than
 *   the read costs (a fast model, short texts), nothing is ever written and KV is left alone.
 */
import type { CacheInput } from '../cache/key.js';
import { FrequencySketch, fnv1a } from './frequency-sketch.js';
import { type CostModel, cpuCost, kvReadCost, kvWriteCost, recomputeCost } from './prices.js';
import { DailyWriteBudget } from './write-budget.js';

export const CACHE_POLICY_MODES = ['cost', 'always', 'off'] as const;

/** CACHE_API_READ_MIN_MS's default: below it, recomputing a text is about as fast as a Cache API round trip. */
export const DEFAULT_CACHE_API_READ_MIN_MS = 10;
export type CachePolicyMode = (typeof CACHE_POLICY_MODES)[number];

/** What the config sets; may differ per request (vars), unlike the isolate's {@link CachePolicyState}. */
export interface CachePolicySettings {
  mode: CachePolicyMode;
  cost: CostModel;
  /** Accesses of a text (within the sketch's window) before a KV write is considered at all. */
  admitAfter: number;
  /** The model's maximum tokens: a longer text costs no more to recompute. */
  maxTokens: number;
  kvWritesPerDay: number;
  /**
   * With the model loaded, a text is looked up in the Cache API only if recomputing it takes at least this many ms of
   * CPU: a lookup is a subrequest that costs latency (about 1.5 ms on Miniflare, hundreds of ms for a 200-document
   * request) and saves only that CPU. In a fresh isolate every miss is looked up, as a hit may spare the model load.
   */
  cacheApiReadMinMs: number;
}

/** Counters per sketch row: enough to tell apart the few thousand texts an isolate's LRU holds (4 x 4 KiB). */
export const SKETCH_WIDTH = 4096;

/** Keys this isolate knows are in KV (it wrote or read them), kept as 32-bit fingerprints, oldest forgotten first. */
const KNOWN_IN_KV_LIMIT = 16_384;

/** Observations are halved past this many reads, so a hit rate can move. */
const HIT_RATE_WINDOW = 1_000;

/** The share of KV reads that found their key, with a Beta(1, 1) prior: 0.5 before any read. */
export class KvHitRate {
  private reads = 0;
  private hits = 0;

  get rate(): number {
    return (this.hits + 1) / (this.reads + 2);
  }

  observe(found: boolean): void {
    this.reads++;
    if (found) this.hits++;
    if (this.reads > HIT_RATE_WINDOW) {
      this.reads /= 2;
      this.hits /= 2;
    }
  }
}

/**
 * What one isolate's policy remembers across requests: access frequencies, today's writes, what KV holds, and two KV
 * hit rates. Popular texts (asked for at least `admitAfter` times) are far likelier to be in KV than texts seen once,
 * so each kind has its own rate: check reads that find most popular texts must not talk the isolate into reading KV
 * for every new text.
 */
export class CachePolicyState {
  readonly writeBudget = new DailyWriteBudget();
  readonly knownInKv = new Set<number>();
  readonly newTextHits = new KvHitRate();
  readonly popularTextHits = new KvHitRate();

  constructor(readonly sketch = new FrequencySketch(SKETCH_WIDTH)) {}
}

/** A key and the tokens of its text (estimated before tokenizing, see estimateTokens; exact once computed). */
export interface KeyTokens {
  key: string;
  tokens: number;
}

/** A key served from the LRU or the Cache API that became popular enough for KV. */
export interface KvPromotion {
  key: string;
  /** Read KV first, as another isolate may have written it already (a read is a tenth of a write). */
  checkFirst: boolean;
}

export interface KvWritePlan {
  /** Per key: write it to KV. */
  admitted: boolean[];
  /** Writes the frequency admitted but the spent budget refused. */
  overBudget: number;
}

/**
 * Tokens a text will take, guessed before tokenizing (the lookup comes first, so a fully cached request never loads
 * the tokenizer): about 4 characters per token for English, plus the two special tokens, capped at the model's maximum.
 * @example estimateTokens({ text: 'how do I reset my password' }, 128) // 9
 */
export function estimateTokens(input: CacheInput, maxTokens: number): number {
  const pieces =
    'text' in input
      ? Math.ceil(input.text.length / 4)
      : 'pair' in input
        ? Math.ceil((input.pair[0].length + input.pair[1].length) / 4)
        : input.tokenIds.length;
  return Math.min(pieces + 2, maxTokens);
}

export class CachePolicy {
  readonly mode: CachePolicyMode;

  /** @example new CachePolicy({ mode: 'cost', cost, admitAfter: 3, maxTokens: 128, kvWritesPerDay: 1000 }, isolateState) */
  constructor(
    private readonly settings: CachePolicySettings,
    private readonly state: CachePolicyState = new CachePolicyState(),
  ) {
    this.mode = settings.mode;
  }

  /** Whether the Cache API tier is used at all. */
  get usesCacheApi(): boolean {
    return this.mode === 'cost';
  }

  /**
   * Which LRU misses to look up in the Cache API (see `cacheApiReadMinMs`).
   * @example policy.planCacheApiReads([{ key, tokens: 12 }], { modelLoaded: true }) // [false] for USE Lite
   */
  planCacheApiReads(candidates: readonly KeyTokens[], context: { modelLoaded: boolean }): boolean[] {
    if (!this.usesCacheApi) return candidates.map(() => false);
    if (!context.modelLoaded) return candidates.map(() => true);
    const { cpuMsPerToken } = this.settings.cost;
    return candidates.map(
      ({ tokens }) => cpuMsPerToken * Math.min(tokens, this.settings.maxTokens) >= this.settings.cacheApiReadMinMs,
    );
  }

  /** Whether KV is used at all. */
  get usesKv(): boolean {
    return this.mode !== 'off';
  }

  /** The chance that a KV read finds a key: 1 if this isolate knows it is there, else the key's kind's hit rate. */
  kvHitChance(key: string): number {
    if (this.isKnownInKv(key)) return 1;
    return this.hitRateFor(key).rate;
  }

  /**
   * Counts one access of each distinct key of a request; call once per request, before planning. Only KV's admission
   * reads the counts, so with KV off nothing is counted (an in-isolate key is the whole text: hashing it four times
   * would cost more than the LRU lookup).
   */
  recordAccess(keys: readonly string[]): void {
    if (!this.usesKv) return;
    for (const key of keys) this.state.sketch.increment(key);
  }

  /**
   * Which of a request's keys, missed by the LRU and the Cache API, to read from KV.
   * @example policy.planKvReads([{ key, tokens: 9 }], { modelLoaded: true }) // [false] for USE Lite under `cost`
   */
  planKvReads(candidates: readonly KeyTokens[], context: { modelLoaded: boolean }): boolean[] {
    if (this.mode !== 'cost') return candidates.map(() => this.mode === 'always');
    const { cost } = this.settings;
    const readPrice = kvReadCost(cost);
    const chances = candidates.map(({ key }) => this.kvHitChance(key));
    const gains = candidates.map((candidate, i) => {
      const sparesWrite = this.wouldWrite(candidate) ? kvWriteCost(cost) : 0;
      return chances[i] * (this.recompute(candidate.tokens) + sparesWrite) - readPrice;
    });
    const perKey = gains.map((gain) => gain > 0);
    if (context.modelLoaded || candidates.length === 0) return perKey;
    // A fresh isolate skips loading the model only if every miss is found: worth it when the misses are few.
    const allFound = chances.reduce((product, chance) => product * chance, 1) * cpuCost(cost, cost.modelLoadCpuMs);
    const readAll = gains.reduce((sum, gain) => sum + gain, 0) + allFound;
    const readSome = gains.reduce((sum, gain) => sum + Math.max(gain, 0), 0) + (perKey.every(Boolean) ? allFound : 0);
    return readAll > readSome ? candidates.map(() => true) : perKey;
  }

  /** Learns from one KV read: the hit rate of the key's kind, and that a found key is in KV. */
  observeKvRead(key: string, found: boolean): void {
    this.hitRateFor(key).observe(found);
    if (found) this.markKnownInKv(key);
  }

  /**
   * Which freshly computed entries to write to KV; each admitted one has taken a write from today's budget.
   * @example policy.planKvWrites([{ key, tokens: 9 }], Date.now()) // { admitted: [false], overBudget: 0 } for a text seen once
   */
  planKvWrites(entries: readonly KeyTokens[], now: number): KvWritePlan {
    if (this.mode !== 'cost') return { admitted: entries.map(() => this.mode === 'always'), overBudget: 0 };
    let overBudget = 0;
    const admitted = entries.map((entry) => {
      if (!this.wouldWrite(entry)) return false;
      if (this.takeWrite(entry.key, now)) return true;
      overBudget++;
      return false;
    });
    return { admitted, overBudget };
  }

  /** Keys served from the LRU or the Cache API that crossed the admission threshold and are not known to be in KV. */
  planPromotions(entries: readonly KeyTokens[], now: number): KvPromotion[] {
    if (this.mode !== 'cost' || this.state.writeBudget.remaining(now, this.settings.kvWritesPerDay) === 0) return [];
    const checkFirst =
      this.state.popularTextHits.rate * kvWriteCost(this.settings.cost) > kvReadCost(this.settings.cost);
    return entries
      .filter((entry) => this.wouldWrite(entry))
      .map(({ key }) => {
        // Claimed now, so a concurrent request does not promote the same key again.
        this.markKnownInKv(key);
        return { key, checkFirst };
      });
  }

  /** Takes one write from today's budget for a promotion whose check read found nothing; if refused, unclaims it. */
  takePromotionWrite(key: string, now: number): boolean {
    if (this.state.writeBudget.tryTake(now, this.settings.kvWritesPerDay)) return true;
    this.state.knownInKv.delete(fnv1a(key, 0));
    return false;
  }

  /**
   * Accesses within the sketch's window after which a KV write of a text of `tokens` tokens pays for itself, on the
   * bet that a text keeps being asked for about as often as it was: Infinity when a KV hit saves less than its read.
   * @example policy.accessesToPayForWrite(100) // Infinity for USE Lite (~25 ms of CPU saved against a 25 ms read)
   */
  accessesToPayForWrite(tokens: number): number {
    const savedPerHit = this.recompute(tokens) - kvReadCost(this.settings.cost);
    if (savedPerHit <= 0) return Number.POSITIVE_INFINITY;
    return Math.max(this.settings.admitAfter, Math.ceil(kvWriteCost(this.settings.cost) / savedPerHit));
  }

  private hitRateFor(key: string): KvHitRate {
    const popular = this.isKnownInKv(key) || this.state.sketch.estimate(key) >= this.settings.admitAfter;
    return popular ? this.state.popularTextHits : this.state.newTextHits;
  }

  private recompute(tokens: number): number {
    return recomputeCost(this.settings.cost, Math.min(tokens, this.settings.maxTokens));
  }

  private wouldWrite({ key, tokens }: KeyTokens): boolean {
    return !this.isKnownInKv(key) && this.state.sketch.estimate(key) >= this.accessesToPayForWrite(tokens);
  }

  private takeWrite(key: string, now: number): boolean {
    if (!this.state.writeBudget.tryTake(now, this.settings.kvWritesPerDay)) return false;
    this.markKnownInKv(key);
    return true;
  }

  private isKnownInKv(key: string): boolean {
    return this.state.knownInKv.has(fnv1a(key, 0));
  }

  private markKnownInKv(key: string): void {
    const known = this.state.knownInKv;
    const fingerprint = fnv1a(key, 0);
    known.delete(fingerprint);
    known.add(fingerprint);
    if (known.size > KNOWN_IN_KV_LIMIT) known.delete(known.values().next().value as number);
  }
}
