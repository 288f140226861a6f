import { describe, expect, it } from 'vitest';
import { FrequencySketch } from '../../src/cache-policy/frequency-sketch.js';

describe('the frequency sketch', () => {
  it('counts each key apart among many others', () => {
    const sketch = new FrequencySketch(1024, 1_000_000);
    for (let i = 0; i < 500; i++) sketch.increment(`other ${i}`);
    for (let i = 0; i < 5; i++) sketch.increment('popular');
    expect(sketch.estimate('popular')).toBe(5);
    expect(sketch.estimate('never seen')).toBeLessThanOrEqual(1);
    const overcounted = Array.from({ length: 500 }, (_, i) => sketch.estimate(`other ${i}`)).filter((n) => n !== 1);
    expect(overcounted.length).toBeLessThan(10);
  });

  it('saturates at 15', () => {
    const sketch = new FrequencySketch(64);
    for (let i = 0; i < 40; i++) sketch.increment('hot');
    expect(sketch.estimate('hot')).toBe(15);
  });

  it('halves every count after sampleSize increments, so old popularity fades', () => {
    const sketch = new FrequencySketch(64, 20);
    for (let i = 0; i < 8; i++) sketch.increment('yesterday');
    expect(sketch.estimate('yesterday')).toBe(8);
    for (let i = 0; i < 12; i++) sketch.increment(`today ${i}`);
    expect(sketch.estimate('yesterday')).toBe(4);
  });
});
