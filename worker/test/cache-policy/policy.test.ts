import { describe, expect, it } from 'vitest';
import { FrequencySketch } from '../../src/cache-policy/frequency-sketch.js';
import { CachePolicy, type CachePolicyMode, CachePolicyState, estimateTokens } from '../../src/cache-policy/policy.js';
import { LIST_PRICES } from '../../src/cache-policy/prices.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function policy(
  mode: CachePolicyMode,
  overrides: { cpuMsPerToken?: number; budget?: number; admitAfter?: number } = {},
) {
  return new CachePolicy(
    {
      mode,
      cost: { prices: LIST_PRICES, cpuMsPerToken: overrides.cpuMsPerToken ?? 0.25, modelLoadCpuMs: 500 },
      admitAfter: overrides.admitAfter ?? 3,
      maxTokens: 128,
      kvWritesPerDay: overrides.budget ?? 1000,
      cacheApiReadMinMs: 10,
    },
    new CachePolicyState(new FrequencySketch(1024)),
  );
}

const short = (key: string) => ({ key, tokens: 10 });
const long = (key: string) => ({ key, tokens: 100 });
/** 100 tokens at 2 ms: a KV hit saves $4e-6 - $0.5e-6, so a $5e-6 write pays after 2 hits (admitAfter 3 rules). */
const heavy = { cpuMsPerToken: 2 };

describe('the cache policy', () => {
  it('`always` reads and writes every key, `off` none, whatever the costs', () => {
    const always = policy('always');
    expect(always.planKvReads([short('a'), short('b')], { modelLoaded: true })).toEqual([true, true]);
    expect(always.planKvWrites([short('a'), short('b')], NOW)).toEqual({ admitted: [true, true], overBudget: 0 });
    expect(always.usesCacheApi).toBe(false);
    const off = policy('off');
    expect(off.usesKv).toBe(false);
    expect(off.planKvReads([short('a')], { modelLoaded: false })).toEqual([false]);
    expect(off.planKvWrites([short('a')], NOW).admitted).toEqual([false]);
  });

  it('`cost` skips KV for short texts of a fast, loaded model, and reads it for long texts of a heavy one', () => {
    const fast = policy('cost');
    fast.recordAccess(['a']);
    expect(fast.planKvReads([short('a'), { key: 'b', tokens: 128 }], { modelLoaded: true })).toEqual([false, false]);
    const slow = policy('cost', { cpuMsPerToken: 1 });
    // 0.5 (prior hit rate) x 128 ms x $0.02/M = $1.28e-6 saved against a $0.5e-6 read.
    expect(slow.planKvReads([short('a'), { key: 'b', tokens: 128 }], { modelLoaded: true })).toEqual([false, true]);
  });

  it('`cost` looks a text up in the Cache API in a fresh isolate, and once loaded only when recomputing it is slow', () => {
    const texts = [short('a'), { key: 'b', tokens: 128 }];
    // 0.25 ms per token: 10 tokens take 2.5 ms (cheaper than a lookup), 128 tokens 32 ms.
    expect(policy('cost').planCacheApiReads(texts, { modelLoaded: false })).toEqual([true, true]);
    expect(policy('cost').planCacheApiReads(texts, { modelLoaded: true })).toEqual([false, true]);
    expect(policy('always').planCacheApiReads(texts, { modelLoaded: false })).toEqual([false, false]);
    expect(policy('off').planCacheApiReads(texts, { modelLoaded: false })).toEqual([false, false]);
  });

  it('`cost` lets a fresh isolate read KV when a few misses could spare it the model load, not when many', () => {
    const fresh = policy('cost');
    expect(fresh.planKvReads([short('a'), short('b')], { modelLoaded: false })).toEqual([true, true]);
    const many = Array.from({ length: 12 }, (_, i) => short(`k${i}`));
    expect(fresh.planKvReads(many, { modelLoaded: false }).some(Boolean)).toBe(false);
  });

  it('`cost` never writes KV for a fast model: a hit would save less than its read costs, however popular the text', () => {
    const fast = policy('cost');
    for (let i = 0; i < 20; i++) fast.recordAccess(['hot']);
    expect(fast.accessesToPayForWrite(10)).toBe(Number.POSITIVE_INFINITY);
    // The longest text: 32 ms of CPU saved per hit against a 25 ms read; 36 accesses, more than the sketch counts (15).
    expect(fast.accessesToPayForWrite(128)).toBe(36);
    expect(fast.planKvWrites([short('hot'), long('hot')], NOW).admitted).toEqual([false, false]);
    expect(fast.planPromotions([long('hot')], NOW)).toEqual([]);
  });

  it("`cost` writes a heavy model's text once it was asked for admitAfter times, and only once", () => {
    const cost = policy('cost', heavy);
    expect(cost.accessesToPayForWrite(100)).toBe(3);
    // 20 tokens: a hit saves $0.8e-6 - $0.5e-6, so the write needs 17 accesses: more than the sketch counts (15).
    expect(cost.accessesToPayForWrite(20)).toBe(17);
    cost.recordAccess(['hot', 'cold']);
    cost.recordAccess(['hot']);
    expect(cost.planKvWrites([long('hot'), long('cold')], NOW).admitted).toEqual([false, false]);
    cost.recordAccess(['hot']);
    // The third access makes a KV read worth it even for a short estimate: it may spare a $5e-6 write.
    expect(cost.planKvReads([long('hot')], { modelLoaded: true })).toEqual([true]);
    expect(cost.planKvWrites([long('hot'), long('cold')], NOW).admitted).toEqual([true, false]);
    cost.recordAccess(['hot']);
    expect(cost.planKvWrites([long('hot')], NOW).admitted).toEqual([false]);
  });

  it('`cost` stops at the daily write budget and counts the refused writes', () => {
    const cost = policy('cost', { cpuMsPerToken: 10, budget: 1, admitAfter: 1 });
    cost.recordAccess(['a', 'b', 'c']);
    expect(cost.planKvWrites([long('a'), long('b'), long('c')], NOW)).toEqual({
      admitted: [true, false, false],
      overBudget: 2,
    });
    expect(cost.planKvWrites([long('b')], NOW + 24 * 3600_000).admitted).toEqual([true]);
  });

  it('`cost` promotes a popular text served from the LRU once, checking KV first while KV often has what it asks for', () => {
    const cost = policy('cost', { ...heavy, admitAfter: 2 });
    cost.recordAccess(['hot']);
    expect(cost.planPromotions([long('hot')], NOW)).toEqual([]);
    cost.recordAccess(['hot']);
    expect(cost.planPromotions([long('hot')], NOW)).toEqual([{ key: 'hot', checkFirst: true }]);
    expect(cost.planPromotions([long('hot')], NOW)).toEqual([]);
    // After 20 check reads of popular texts that found nothing, the rate is 1/22: a check read (1/10 of a write) no
    // longer pays.
    for (let i = 0; i < 20; i++) {
      cost.recordAccess([`popular ${i}`, `popular ${i}`]);
      cost.observeKvRead(`popular ${i}`, false);
    }
    cost.recordAccess(['warm', 'warm']);
    expect(cost.planPromotions([long('warm')], NOW)).toEqual([{ key: 'warm', checkFirst: false }]);
  });

  it('`cost` keeps apart the hit rates of new and popular texts', () => {
    const cost = policy('cost', heavy);
    cost.recordAccess(['popular', 'popular', 'popular', 'new']);
    // Check reads find popular texts...
    for (let i = 0; i < 20; i++) {
      cost.recordAccess([`found ${i}`, `found ${i}`, `found ${i}`]);
      cost.observeKvRead(`found ${i}`, true);
    }
    // ...while reads of texts seen once find nothing.
    for (let i = 0; i < 20; i++) {
      cost.recordAccess([`unseen ${i}`]);
      cost.observeKvRead(`unseen ${i}`, false);
    }
    expect(cost.kvHitChance('popular')).toBeCloseTo(21 / 22, 9);
    expect(cost.kvHitChance('new')).toBeCloseTo(1 / 22, 9);
    expect(cost.kvHitChance('found 3')).toBe(1);
    // A 100-token text seen once is not worth a read at 1/22 ($0.18e-6 expected saving against $0.5e-6).
    expect(cost.planKvReads([long('new')], { modelLoaded: true })).toEqual([false]);
  });

  it('estimates tokens before tokenizing: ~4 characters each plus the special tokens, capped', () => {
    expect(estimateTokens({ text: 'how do I reset my password' }, 128)).toBe(9);
    expect(estimateTokens({ tokenIds: [5, 6, 7] }, 128)).toBe(5);
    expect(estimateTokens({ text: 'x'.repeat(10_000) }, 128)).toBe(128);
  });
});
