/**
 * The static engine: no neural network, no ONNX Runtime. A text's vector is the sum of its pieces' rows in the
 * bundle's table, L2-normalised (the same direction as the mean). Frequency weights are folded into the rows when
 * the table is distilled, and special tokens have zero rows, so the framing the tokenizer adds changes nothing.
 */
import type { StaticTable } from '../bundle-format/static-table.js';
import type { InferenceEngine } from './engine.js';
import { normalizeL2 } from './pooling.js';

/**
 * @example const engine = createStaticEngine(decodeStaticTable(bytes, rows, dims)); await engine.run([[5, 17]])
 */
export function createStaticEngine(table: StaticTable): InferenceEngine {
  const { values, scales, dimensions, rows } = table;
  return {
    name: 'static',
    async run(sequences) {
      return sequences.map((ids) => {
        const sum = new Float32Array(dimensions);
        for (const id of ids) {
          if (!Number.isInteger(id) || id < 0 || id >= rows) {
            throw new Error(`token id ${id} is outside the static table (${rows} rows)`);
          }
          const scale = scales[id];
          if (scale === 0) continue;
          const offset = id * dimensions;
          for (let d = 0; d < dimensions; d++) sum[d] += values[offset + d] * scale;
        }
        return normalizeL2(sum);
      });
    },
    release: async () => {},
  };
}
