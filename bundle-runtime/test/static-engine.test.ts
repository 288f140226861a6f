import { describe, expect, it } from 'vitest';
import {
  decodeStaticTable,
  encodeStaticTable,
  quantizeStaticRows,
  staticTableBytes,
} from '../../bundle-format/static-table.js';
import { createStaticEngine } from '../static-engine.js';

/** Rows of a small table with varied magnitudes; row 0 is a special token (all zero). */
const ROWS = [
  [0, 0, 0, 0],
  [0.5, -1, 0.25, 0],
  [2, 0.1, -0.3, 1.5],
  [-0.01, 0.02, 0.005, -0.03],
];

/** The engine's maths written out plainly, in float64: sum of dequantized rows, then unit length. */
function reference(ids: number[], values: Int8Array, scales: Float32Array, dims: number): number[] {
  const sum = new Array(dims).fill(0);
  for (const id of ids) for (let d = 0; d < dims; d++) sum[d] += values[id * dims + d] * scales[id];
  const norm = Math.hypot(...sum);
  return norm === 0 ? sum : sum.map((value) => value / norm);
}

describe('static table', () => {
  it('round-trips through embeddings.bin bytes', () => {
    const table = quantizeStaticRows(ROWS.map((row) => Float32Array.from(row)));
    const bytes = encodeStaticTable(table);
    expect(bytes.length).toBe(staticTableBytes(4, 4));
    const back = decodeStaticTable(bytes, 4, 4);
    expect(Array.from(back.values)).toEqual(Array.from(table.values));
    expect(Array.from(back.scales)).toEqual(Array.from(table.scales));
  });

  it('quantizes each row to within half a step of its own scale', () => {
    const table = quantizeStaticRows(ROWS.map((row) => Float32Array.from(row)));
    ROWS.forEach((row, r) => {
      row.forEach((value, d) => {
        expect(Math.abs(table.values[r * 4 + d] * table.scales[r] - value)).toBeLessThanOrEqual(
          table.scales[r] * 0.501,
        );
      });
    });
    expect(table.scales[0]).toBe(0);
  });

  it('refuses a file whose size does not match the manifest', () => {
    expect(() => decodeStaticTable(new Uint8Array(10), 4, 4)).toThrow(/embeddings.bin has 10 bytes, expected 32/);
  });
});

describe('static engine', () => {
  const table = quantizeStaticRows(ROWS.map((row) => Float32Array.from(row)));
  const engine = createStaticEngine(table);

  it('gives the normalised sum of the rows, as the reference does', async () => {
    const sequences = [[1], [1, 2], [0, 2, 3, 0], [3, 3, 1]];
    const vectors = await engine.run(sequences);
    sequences.forEach((ids, i) => {
      const want = reference(ids, table.values, table.scales, 4);
      want.forEach((value, d) => {
        expect(vectors[i][d]).toBeCloseTo(value, 6);
      });
    });
  });

  it('ignores zero rows, so special tokens around a text change nothing', async () => {
    const [framed, bare] = await engine.run([
      [0, 1, 2, 0],
      [1, 2],
    ]);
    expect(Array.from(framed)).toEqual(Array.from(bare));
  });

  it('gives a zero vector for a text with no content pieces', async () => {
    const [empty] = await engine.run([[0, 0]]);
    expect(Array.from(empty)).toEqual([0, 0, 0, 0]);
  });

  it('refuses an id outside the table', async () => {
    await expect(engine.run([[4]])).rejects.toThrow(/token id 4 is outside the static table \(4 rows\)/);
  });
});
