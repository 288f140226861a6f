/**
 * The vector as a client asked for it: the requested `dimensions` (Matryoshka: a prefix of the vector, among those the
 * bundle allows) and L2 normalisation.
 */
import type { BundleManifest } from '../../../../bundle-format/manifest.js';
import { ApiError } from '../../errors.js';

/**
 * The first `dimensions` values (Matryoshka), L2-normalised when asked.
 * @example shapeVector(Float32Array.of(3, 4, 12), { dimensions: 2, normalize: true }) // [0.6, 0.8]
 */
export function shapeVector(vector: Float32Array, options: { dimensions?: number; normalize: boolean }): Float32Array {
  const shaped = vector.slice(0, options.dimensions ?? vector.length);
  if (!options.normalize) return shaped;
  let sum = 0;
  for (const value of shaped) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < shaped.length; i++) shaped[i] /= norm;
  return shaped;
}

/**
 * The response vector for a bundle. A bundle with normalisation folded into the graph already yields unit vectors, so
 * they are renormalised only after a Matryoshka cut; `normalize: false` cannot undo the graph's own.
 * @example responseVector(vector, manifest, 128, true) // the first 128 values, unit length
 */
export function responseVector(
  vector: Float32Array,
  manifest: BundleManifest,
  dimensions: number | undefined,
  normalize: boolean,
): Float32Array {
  const cut = dimensions !== undefined && dimensions < manifest.dimensions;
  return shapeVector(vector, { dimensions, normalize: normalize && (cut || !manifest.normalize) });
}

/**
 * Refuses a `dimensions` the bundle does not allow (400, param "dimensions").
 * @example checkDimensions(manifest, 7) // throws unsupported_dimensions
 */
export function checkDimensions(manifest: BundleManifest, dimensions: number | undefined): void {
  if (dimensions === undefined || manifest.allowedDimensions.includes(dimensions)) return;
  throw new ApiError(
    'unsupported_dimensions',
    `dimensions: ${dimensions} is not supported by ${manifest.modelName}; use one of ${manifest.allowedDimensions.join(', ')}`,
    { param: 'dimensions' },
  );
}
