/**
 * A daily allowance of KV writes (the free plan allows 1,000 a day), counted per UTC day in this isolate. Isolates do
 * not share the count: with n isolates alive the account can see up to n x the budget (see docs/caching.md); sharing
 * it would itself cost a KV write or a Durable Object call per write. The allowance is passed per call, as it comes
 * from a var that a request's env may change; the count is the isolate's.
 */
export class DailyWriteBudget {
  private day = '';
  private used = 0;

  /**
   * Takes one write from today's allowance; false when it is spent. `now` is milliseconds since the epoch.
   * @example budget.tryTake(Date.now(), 1000) // true until 1,000 writes were taken this UTC day
   */
  tryTake(now: number, perDay: number): boolean {
    this.roll(now);
    if (this.used >= perDay) return false;
    this.used++;
    return true;
  }

  /** Writes left today. */
  remaining(now: number, perDay: number): number {
    this.roll(now);
    return Math.max(perDay - this.used, 0);
  }

  private roll(now: number): void {
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== this.day) {
      this.day = day;
      this.used = 0;
    }
  }
}
