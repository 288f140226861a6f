/**
 * Step 2: PCA of the piece vectors (ml-pca, covariance-matrix method: an eigendecomposition of the dims x dims
 * covariance, so a few seconds for 512 dims), centring them and keeping the leading components. Model2Vec reports a
 * few points of STS from it; docs/performance.md has what it gave here.
 */
import { PCA } from 'ml-pca';

/**
 * The rows projected onto their first `components` principal components.
 * @example const reduced = pcaProject(vectors, 256) // Float32Array(256) per row
 */
export function pcaProject(rows: readonly Float32Array[], components: number): Float32Array[] {
  const data = rows.map((row) => Array.from(row));
  const pca = new PCA(data, { method: 'covarianceMatrix', center: true, scale: false });
  const projected = pca.predict(data, { nComponents: components });
  return projected.to2DArray().map((row) => Float32Array.from(row));
}
