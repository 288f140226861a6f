/**
 * Two-stage ranking's first stage: the static bundle distilled from the served transformer (compiled in beside it),
 * which scores every document before the transformer re-scores the top k. Used by /v1/rank and reported by /info.
 */
import { isStaticManifest } from '../../../bundle-format/manifest.js';
import type { Config } from '../config.js';
import type { EmbeddingService } from './service.js';

export type FirstStage = { service: EmbeddingService; problem?: undefined } | { service?: undefined; problem: string };

/**
 * The served bundle's static companion, or why it cannot be one: the served bundle is static, has no companion, or
 * the companion was distilled from another bundle (its vectors would rank for a different model). `companion` is the
 * model registry's service for it when MODELS lists it too (so it loads once).
 * @example const stage = await firstStage(service, config); if (stage.problem === undefined) stage.service.manifest(config)
 */
export async function firstStage(
  service: EmbeddingService,
  config: Config,
  companion = service.staticCompanion(),
): Promise<FirstStage> {
  const manifest = await service.manifest(config);
  if (isStaticManifest(manifest) || companion === undefined) {
    return { problem: 'needs a transformer bundle with a static bundle distilled from it; this worker serves none' };
  }
  const companionManifest = await companion.manifest(config);
  if (!isStaticManifest(companionManifest) || companionManifest.static.teacher.contentHash !== manifest.contentHash) {
    return {
      problem: `the compiled-in static bundle was not distilled from the served bundle ${manifest.contentHash.slice(0, 12)}; rebuild it (npm run build)`,
    };
  }
  return { service: companion };
}
