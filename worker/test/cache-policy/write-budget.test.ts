import { describe, expect, it } from 'vitest';
import { DailyWriteBudget } from '../../src/cache-policy/write-budget.js';

describe('the daily write budget', () => {
  it('allows perDay writes per UTC day and starts again at midnight UTC', () => {
    const budget = new DailyWriteBudget();
    const evening = Date.parse('2026-12-01T23:59:00Z');
    expect([budget.tryTake(evening, 2), budget.tryTake(evening, 2), budget.tryTake(evening, 2)]).toEqual([
      true,
      true,
      false,
    ]);
    expect(budget.remaining(evening, 2)).toBe(0);
    const nextDay = Date.parse('2026-12-02T00:00:01Z');
    expect(budget.remaining(nextDay, 2)).toBe(2);
    expect(budget.tryTake(nextDay, 2)).toBe(true);
  });

  it('counts against the allowance of each call, so a lowered allowance takes effect at once', () => {
    const budget = new DailyWriteBudget();
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(budget.tryTake(now, 1000)).toBe(true);
    expect(budget.tryTake(now, 1000)).toBe(true);
    expect(budget.tryTake(now, 2)).toBe(false);
    expect(budget.remaining(now, 1)).toBe(0);
  });

  it('allows nothing when the allowance is 0', () => {
    expect(new DailyWriteBudget().tryTake(Date.now(), 0)).toBe(false);
  });
});
