/**
 * Benchmark-only: `POST /__bench/isolate` runs batches through a worker inside its own isolate, with no network, HTTP
 * parsing or client between batches, for bench/static.ts's in-isolate throughput. workerd's clock stands still while
 * code runs (docs/workerd-runtime.md), so the caller times the whole request from outside and subtracts the same
 * request with `dry: true` (the body parsed, nothing run). Two stages:
 * - `app`: each batch as a POST /v1/embeddings to the worker's own fetch handler (routing, config, validation, cache,
 *   tokenization, the engine, the JSON response, read to the end): everything the worker does for a request.
 * - `pipeline`: tokenize -> engine (gather + weighted mean + normalise for a static bundle, ORT for a transformer)
 *   through the worker's EmbeddingService, as the worker runs it: the computation alone.
 * - `tokenize`: the pipeline's tokenization alone (the engine's share is `pipeline` minus this).
 *
 *   POST /__bench/isolate {"stage": "app" | "pipeline" | "tokenize", "batches": [["a text", ...], ...], "encoding_format": "float",
 *                          "dry": false}  ->  {"batches": n, "texts": n}
 */
import type { OrtRuntime } from '../../bundle-runtime/ort-engine.js';
import type { BundleSource } from '../../worker/src/bundle/source.js';
import { readConfig } from '../../worker/src/config.js';
import { EmbeddingService } from '../../worker/src/embedding/service.js';
import type { Env } from '../../worker/src/env.js';
import type { App } from '../../worker/src/http/app.js';

type ExecutionContext = Parameters<App['fetch']>[2];

interface Worker<E> {
  fetch(request: Request, env: E, ctx: ExecutionContext): Response | Promise<Response>;
}

interface IsolateBenchBody {
  stage: 'app' | 'pipeline' | 'tokenize';
  batches: string[][];
  encoding_format?: 'float' | 'base64';
  dry?: boolean;
}

/**
 * Wraps a benchmark entry's worker with the in-isolate route; `bundle` and `ort` are what the worker serves.
 * @example export default withIsolateBench(withCacheSwitch(app), { bundle: staticDefaultBundle, ort: noOrt })
 */
export function withIsolateBench<E extends Env>(worker: Worker<E>, served: { bundle: BundleSource; ort: OrtRuntime }) {
  let service: EmbeddingService | undefined;
  return {
    async fetch(request: Request, env: E, ctx: ExecutionContext): Promise<Response> {
      if (new URL(request.url).pathname !== '/__bench/isolate') return worker.fetch(request, env, ctx);
      const body = (await request.json()) as IsolateBenchBody;
      let texts = 0;
      if (!body.dry) {
        service ??= new EmbeddingService(served.bundle, served.ort);
        const embed =
          body.stage === 'app'
            ? (batch: string[]) => viaApp(worker, env, ctx, batch, body.encoding_format ?? 'float')
            : await pipeline(service, env, body.stage === 'tokenize');
        for (const batch of body.batches) {
          await embed(batch);
          texts += batch.length;
        }
      }
      return Response.json({ batches: body.dry ? 0 : body.batches.length, texts });
    },
  };
}

async function viaApp<E>(
  worker: Worker<E>,
  env: E,
  ctx: ExecutionContext,
  batch: string[],
  encoding: 'float' | 'base64',
): Promise<void> {
  const request = new Request('http://isolate/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: batch, encoding_format: encoding }),
  });
  const response = await worker.fetch(request, env, ctx);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/v1/embeddings in the isolate: ${response.status} ${text}`);
}

/** The service's tokenizer and engine, loaded once, as a function of one batch. */
async function pipeline(
  service: EmbeddingService,
  env: Env,
  tokenizeOnly: boolean,
): Promise<(batch: string[]) => Promise<void>> {
  const config = readConfig(env);
  const manifest = await service.manifest(config);
  const tokenizer = await service.tokenizer(config);
  const model = await service.model(config);
  return async (batch) => {
    const ids = batch.map((text) => tokenizer.encode(text, manifest.maxTokens, 'right').ids);
    if (tokenizeOnly) return;
    const vectors = await model.embedAll(ids, { limits: config });
    if (vectors.length !== batch.length) throw new Error('the pipeline lost vectors');
  };
}
