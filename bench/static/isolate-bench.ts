/**
 * Benchmark-only: `POST /__bench/isolate` runs batches through a worker inside its own isolate, with no network, HTTP
 * parsing or client between batches, for bench/static.ts's in-isolate throughput. workerd's clock stands still while
 * code runs (docs/workerd-runtime.md), so the caller times the whole request from outside and subtracts the same
 * request with `dry: true` (the body parsed, nothing run). Three stages:
 * - `app`: each batch as a POST /v1/embeddings to the worker's own fetch handler (routing, config, validation, cache,
 *   tokenization, the engine, the JSON response, read to the end): everything the worker does for a request.
 * - `pipeline`: tokenize -> engine (gather + weighted mean + normalise for a static bundle; ORT or the plan engine, as
 *   `engine` says, for a transformer) through the worker's EmbeddingService, as the worker runs it: the computation.
 * - `tokenize`: the pipeline's tokenization alone (the engine's share is `pipeline` minus this).
 *
 *   POST /__bench/isolate {"stage": "app" | "pipeline" | "tokenize", "batches": [["a text", ...], ...],
 *                          "encoding_format": "float", "engine": "ort" | "plan", "dry": false}  ->  {"batches": n, "texts": n}
 */
import type { BundleSource } from '../../worker/src/bundle/source.js';
import { readConfig } from '../../worker/src/config.js';
import type { EngineChoice, EngineRuntime } from '../../worker/src/embedding/engine-choice.js';
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
  /** The engine of `pipeline` and `tokenize` (ENGINE's values); the worker's config by default. */
  engine?: EngineChoice;
  dry?: boolean;
}

/**
 * Wraps a benchmark entry's worker with the in-isolate route; `bundle` and `runtime` are what the worker serves.
 * @example export default withIsolateBench(withCacheSwitch(app), { bundle: staticDefaultBundle, runtime: { ort: noOrt } })
 */
export function withIsolateBench<E extends Env>(
  worker: Worker<E>,
  served: { bundle: BundleSource; runtime: EngineRuntime },
) {
  // One service per engine: a service switching engines would reload its model.
  const services = new Map<string, EmbeddingService>();
  return {
    async fetch(request: Request, env: E, ctx: ExecutionContext): Promise<Response> {
      if (new URL(request.url).pathname !== '/__bench/isolate') return worker.fetch(request, env, ctx);
      const body = (await request.json()) as IsolateBenchBody;
      let texts = 0;
      if (!body.dry) {
        const engine = body.engine ?? 'default';
        const service = services.get(engine) ?? new EmbeddingService(served.bundle, served.runtime);
        services.set(engine, service);
        const embed =
          body.stage === 'app'
            ? (batch: string[]) => viaApp(worker, env, ctx, batch, body.encoding_format ?? 'float')
            : await pipeline(service, env, body.engine, body.stage === 'tokenize');
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
  engine: EngineChoice | undefined,
  tokenizeOnly: boolean,
): Promise<(batch: string[]) => Promise<void>> {
  const worker = readConfig(env);
  const config = { ...worker, engine: engine ?? worker.engine };
  const manifest = await service.manifest(config);
  const tokenizer = await service.tokenizer(config);
  const tokenize = (batch: string[]) => batch.map((text) => tokenizer.encode(text, manifest.maxTokens, 'right').ids);
  if (tokenizeOnly) return async (batch) => void tokenize(batch);
  const model = await service.model(config);
  return async (batch) => {
    const ids = tokenize(batch);
    const vectors = await model.embedAll(ids, { limits: config });
    if (vectors.length !== batch.length) throw new Error('the pipeline lost vectors');
  };
}
