import { describe, expect, it } from 'vitest';
import { DailyWriteBudget } from '../../src/cache-policy/write-budget.js';

describe('the daily write budget', () => {
  it('allows perDay writes per UTC day and starts again at midnight UTC', () => {
    const budget = new DailyWriteBudget(2);
    const evening = Date.parse('2026-12-01T23:59:00Z');
    expect([budget.tryTake(evening), budget.tryTake(evening), budget.tryTake(evening)]).toEqual([true, true, false]);
    expect(budget.remaining(evening)).toBe(0);
    const nextDay = Date.parse('2026-12-02T00:00:01Z');
    expect(budget.remaining(nextDay)).toBe(2);
    expect(budget.tryTake(nextDay)).toBe(true);
  });

  it('allows nothing when the budget is 0', () => {
    expect(new DailyWriteBudget(0).tryTake(Date.now())).toBe(false);
  });
});
