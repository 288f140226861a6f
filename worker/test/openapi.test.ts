/**
 * GET /openapi.json inside workerd: open without a key, listing exactly the routes the app serves, with the auth rule
 * each one really has and request bodies generated from the zod wire schemas.
 */
import { describe, expect, it } from 'vitest';
import { defaultBundle } from '../src/bundle/default-bundle.js';
import { createApp } from '../src/http/app.js';
import { isOpenPath } from '../src/http/middleware/auth.js';
import { workerdOrt } from '../src/runtime/ort-workerd.js';
import { call } from './helpers.js';

interface JsonSchema {
  type?: string;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  $ref?: string;
  oneOf?: JsonSchema[];
  additionalProperties?: unknown;
}

interface OpenApi {
  openapi: string;
  components: { schemas: Record<string, JsonSchema> };
  paths: Record<
    string,
    Record<string, { security?: unknown[]; requestBody?: { content: { 'application/json': { schema: JsonSchema } } } }>
  >;
}

async function fetchDocument(): Promise<OpenApi> {
  const response = await call('/openapi.json', {}, { API_KEYS: 'docs-key' });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('application/json');
  return (await response.json()) as OpenApi;
}

describe('GET /openapi.json', () => {
  it('lists exactly the routes the app serves, each marked open exactly when it needs no key', async () => {
    const document = await fetchDocument();
    expect(document.openapi).toBe('3.0.3');
    const app = createApp({ bundle: defaultBundle, ort: workerdOrt });
    const served = new Set(
      app.routes.filter((route) => route.method !== 'ALL').map((route) => `${route.method} ${route.path}`),
    );
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect(documented).toEqual(served);
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const open = Array.isArray(operation.security) && operation.security.length === 0;
        expect(open, `${method} ${path}`).toBe(isOpenPath(method.toUpperCase(), path));
      }
    }
  });

  it('describes request bodies from the wire schemas, POST / as an /embed or a /similarity body', async () => {
    const { paths, components } = await fetchDocument();
    const bodyOf = (path: string) => paths[path].post.requestBody?.content['application/json'].schema;
    const schema = (ref: JsonSchema | undefined) => components.schemas[(ref?.$ref ?? '').split('/').pop() ?? ''];

    const embed = schema(bodyOf('/embed'));
    expect(embed.required).toEqual(['inputs']);
    expect(Object.keys(embed.properties ?? {})).toEqual(
      expect.arrayContaining(['inputs', 'normalize', 'truncate', 'truncation_direction', 'dimensions', 'prompt_name']),
    );
    expect(embed.properties?.truncation_direction.type).toBe('string');
    // The routes ignore fields they do not know (clients send extras), and the document must not say otherwise.
    expect(schema(bodyOf('/tokenize')).additionalProperties).not.toBe(false);
    expect((await call('/tokenize', { body: { inputs: 'hi', some_client_field: 1 } })).status).toBe(200);

    const similarity = schema(bodyOf('/similarity'));
    expect(similarity.properties?.inputs.required).toEqual(['source_sentence', 'sentences']);
    for (const path of ['/', '/invocations']) {
      expect(bodyOf(path)?.oneOf?.map((option) => schema(option))).toEqual([embed, similarity]);
    }
    expect(schema(bodyOf('/embeddings'))).toEqual(schema(bodyOf('/v1/embeddings')));
    expect(schema(bodyOf('/v1/embeddings')).required).toEqual(['input']);
    expect(schema(bodyOf('/v1/rank')).required).toEqual(['query', 'documents']);
    for (const path of ['/tokenize', '/decode']) expect(schema(bodyOf(path))).toBeDefined();
  });
});
