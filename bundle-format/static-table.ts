/**
 * embeddings.bin, the static bundle's table: `rows` int8 rows of `dimensions` values, row after row, then one
 * little-endian float32 scale per row. Row r's vector is values[r] * scales[r]. Rows the tokenizer never produces as
 * content (special tokens) are all zero with scale 0, so they add nothing to a sum.
 */

export interface StaticTable {
  rows: number;
  dimensions: number;
  /** rows x dimensions, row-major. */
  values: Int8Array;
  scales: Float32Array;
}

/** Bytes of a table: rows x dimensions int8, then rows float32 scales. */
export function staticTableBytes(rows: number, dimensions: number): number {
  return rows * dimensions + rows * 4;
}

/**
 * Quantizes fp32 rows to int8 with one scale per row (max |x| / 127, symmetric).
 * @example quantizeStaticRows([Float32Array.of(0.5, -1)]).values // Int8Array [64, -127]
 */
export function quantizeStaticRows(rows: readonly ArrayLike<number>[]): StaticTable {
  const dimensions = rows[0]?.length ?? 0;
  const values = new Int8Array(rows.length * dimensions);
  const scales = new Float32Array(rows.length);
  rows.forEach((row, r) => {
    let max = 0;
    for (let d = 0; d < dimensions; d++) max = Math.max(max, Math.abs(row[d]));
    const scale = Math.fround(max / 127);
    scales[r] = scale;
    if (scale === 0) return;
    for (let d = 0; d < dimensions; d++) values[r * dimensions + d] = Math.round(row[d] / scale);
  });
  return { rows: rows.length, dimensions, values, scales };
}

/** The file's bytes. */
export function encodeStaticTable(table: StaticTable): Uint8Array {
  const out = new Uint8Array(staticTableBytes(table.rows, table.dimensions));
  out.set(new Uint8Array(table.values.buffer, table.values.byteOffset, table.values.byteLength), 0);
  const view = new DataView(out.buffer, table.values.byteLength);
  for (let r = 0; r < table.rows; r++) view.setFloat32(r * 4, table.scales[r], true);
  return out;
}

/**
 * Reads embeddings.bin; its size must be exactly that of `rows` x `dimensions` (the manifest's figures).
 * @example const table = decodeStaticTable(bytes, manifest.static.rows, manifest.dimensions)
 */
export function decodeStaticTable(bytes: Uint8Array, rows: number, dimensions: number): StaticTable {
  const expected = staticTableBytes(rows, dimensions);
  if (bytes.byteLength !== expected) {
    throw new Error(
      `embeddings.bin has ${bytes.byteLength} bytes, expected ${expected} for ${rows} rows of ${dimensions}`,
    );
  }
  const values = new Int8Array(bytes.buffer, bytes.byteOffset, rows * dimensions);
  const view = new DataView(bytes.buffer, bytes.byteOffset + rows * dimensions, rows * 4);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) scales[r] = view.getFloat32(r * 4, true);
  return { rows, dimensions, values, scales };
}
