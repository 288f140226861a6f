import { describe, expect, it } from 'vitest';
import {
  type CostModel,
  costPerMillionEmbeddings,
  defaultCpuFigures,
  LIST_PRICES,
  pathCosts,
} from '../../src/cache-policy/prices.js';

const useLite: CostModel = { prices: LIST_PRICES, cpuMsPerToken: 0.25, modelLoadCpuMs: 500 };

describe('the cost model', () => {
  it('prices a KV write like 250 ms of CPU and a read like 25 ms, as the list prices say', () => {
    const costs = pathCosts({ ...useLite, cpuMsPerToken: 1 }, 1);
    expect(costs.kvWrite / costs.recompute).toBeCloseTo(250, 9);
    expect(costs.kvRead / costs.recompute).toBeCloseTo(25, 9);
    expect(costs.lru).toBe(0);
    expect(costs.cacheApi).toBe(0);
  });

  it('makes recomputing a short sentence with a fast model cheaper than a KV read', () => {
    const costs = pathCosts(useLite, 12);
    expect(costs.recompute).toBeLessThan(costs.kvRead);
    expect(costs.modelLoad).toBeGreaterThan(costs.kvRead);
  });

  it('derives per-token CPU from the layer weights and the engine when no var sets it', () => {
    const bytes = { layers: 6 * 1024 * 1024, total: 8 * 1024 * 1024 };
    const ort = defaultCpuFigures(bytes, 'ort');
    expect(ort.cpuMsPerToken).toBeCloseTo(0.36, 9);
    expect(ort.modelLoadCpuMs).toBeCloseTo(480, 9);
    const plan = defaultCpuFigures(bytes, 'plan');
    expect(plan.cpuMsPerToken).toBeCloseTo(0.078, 9);
    expect(plan.modelLoadCpuMs).toBeCloseTo(48, 9);
    expect(defaultCpuFigures(bytes, 'static')).toEqual(plan);
  });

  it('adds KV operations, inference and model loads per million embeddings', () => {
    const work = { embeddings: 4, kvReads: 2, kvWrites: 1, inferenceTokens: 40, modelLoads: 1 };
    // 2 x $0.5e-6 + 1 x $5e-6 + (40 x 0.25 + 500) ms x $0.02e-6 = $16.2e-6 for 4 embeddings
    expect(costPerMillionEmbeddings(work, useLite)).toBeCloseTo(4.05, 9);
    expect(costPerMillionEmbeddings({ ...work, embeddings: 0 }, useLite)).toBe(0);
  });
});
