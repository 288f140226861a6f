/**
 * Step 2: PCA of the piece vectors: centre them, then project onto the leading eigenvectors of their covariance.
 * Model2Vec reports a few points of STS from it; docs/performance.md has what it gave here. The covariance is summed
 * here in float64 (one pass, ~2 GFLOP for 7,280 x 512); the eigendecomposition of that dims x dims matrix is
 * ml-matrix's. (ml-pca computes the same but took ~50 s for the default bundle, against a few seconds for this.)
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * The rows projected onto their first `components` principal components (largest variance first). Each component's
 * sign is fixed so that its largest entry is positive, so the output does not depend on the solver's sign choice.
 * @example const reduced = pcaProject(vectors, 256) // Float32Array(256) per row
 */
export function pcaProject(rows: readonly Float32Array[], components: number): Float32Array[] {
  const dims = rows[0]?.length ?? 0;
  const mean = new Float64Array(dims);
  for (const row of rows) for (let d = 0; d < dims; d++) mean[d] += row[d];
  for (let d = 0; d < dims; d++) mean[d] /= Math.max(rows.length, 1);
  const basis = principalAxes(covariance(rows, mean), dims, components);
  const centred = new Float64Array(dims);
  return rows.map((row) => {
    for (let d = 0; d < dims; d++) centred[d] = row[d] - mean[d];
    return Float32Array.from(basis, (axis) => {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += axis[d] * centred[d];
      return dot;
    });
  });
}

/** The covariance's upper triangle (row-major dims x dims), summed over centred rows. */
function covariance(rows: readonly Float32Array[], mean: Float64Array): Float64Array {
  const dims = mean.length;
  const sums = new Float64Array(dims * dims);
  const centred = new Float64Array(dims);
  for (const row of rows) {
    for (let d = 0; d < dims; d++) centred[d] = row[d] - mean[d];
    for (let i = 0; i < dims; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      const offset = i * dims;
      for (let j = i; j < dims; j++) sums[offset + j] += ci * centred[j];
    }
  }
  return sums;
}

/** The `components` eigenvectors of the largest eigenvalues, largest first, signs fixed. */
function principalAxes(upper: Float64Array, dims: number, components: number): Float64Array[] {
  const matrix = new Matrix(dims, dims);
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      matrix.set(i, j, upper[i * dims + j]);
      matrix.set(j, i, upper[i * dims + j]);
    }
  }
  const evd = new EigenvalueDecomposition(matrix, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, components).map((column) => {
    const axis = Float64Array.from(vectors.getColumn(column));
    let largest = 0;
    for (let d = 1; d < dims; d++) if (Math.abs(axis[d]) > Math.abs(axis[largest])) largest = d;
    if (axis[largest] < 0) for (let d = 0; d < dims; d++) axis[d] = -axis[d];
    return axis;
  });
}
