/**
 * A daily allowance of KV writes (the free plan allows 1,000 a day), counted per UTC day in this isolate. Isolates do
 * not share the count: with n isolates alive the account can see up to n x the budget (see docs/caching.md); sharing
 * it would itself cost a KV write or a Durable Object call per write.
 */
export class DailyWriteBudget {
  private day = '';
  private used = 0;

  constructor(readonly perDay: number) {}

  /**
   * Takes one write from today's budget; false when it is spent. `now` is milliseconds since the epoch.
   * @example budget.tryTake(Date.now()) // true until perDay writes were taken this UTC day
   */
  tryTake(now: number): boolean {
    this.roll(now);
    if (this.used >= this.perDay) return false;
    this.used++;
    return true;
  }

  /** Writes left today. */
  remaining(now: number): number {
    this.roll(now);
    return this.perDay - this.used;
  }

  private roll(now: number): void {
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== this.day) {
      this.day = day;
      this.used = 0;
    }
  }
}
