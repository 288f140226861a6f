/**
 * Every route /openapi.json documents answers as documented, inside workerd: each operation is called with a valid
 * body for each request schema it lists, and its 200 answer has a documented media type and parses with the response
 * schema the document names for it (wire/responses.ts, from which the document's schemas are generated).
 */
import { describe, expect, it } from 'vitest';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from '../src/http/wire/responses.js';
import { call } from './helpers.js';

interface Content {
  schema: { $ref?: string; oneOf?: { $ref: string }[] };
}
interface Operation {
  requestBody?: { content: { 'application/json': Content } };
  responses: { '200': { content?: Record<string, Content> } };
}
type Paths = Record<string, Record<string, Operation>>;

/** A valid request of each documented request schema (ids 10-12 are in every bundle's vocabulary). */
const EXAMPLES: Record<string, unknown> = {
  OpenAiEmbeddingsRequest: { input: ['hello world', 'a second text'], model: 'any' },
  TeiEmbedRequest: { inputs: ['hello world', 'a second text'] },
  TeiSimilarityRequest: { inputs: { source_sentence: 'a cat', sentences: ['a kitten', 'a truck'] } },
  TeiTokenizeRequest: { inputs: 'hello world', add_special_tokens: true },
  TeiDecodeRequest: { ids: [[10, 11, 12]] },
  RankRequest: { query: 'a cat', documents: ['a kitten', { id: 'd2', text: 'a truck' }], return_documents: true },
  TeiRerankRequest: { query: 'a cat', texts: ['a kitten', 'a truck'], return_text: true },
  RerankRequest: { query: 'a cat', documents: ['a kitten', { text: 'a truck' }], top_n: 1, return_documents: true },
};

const names = (content: Content | undefined): string[] =>
  (content?.schema.oneOf ?? (content ? [content.schema] : [])).map((s) => (s.$ref ?? '').split('/').pop() ?? '');

async function documentedOperations(): Promise<[string, string, Operation][]> {
  const response = await call('/openapi.json');
  const { paths } = (await response.json()) as { paths: Paths };
  return Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, string, Operation] => [path, method, operation]),
  );
}

/** The bodies to send: one per documented request schema, or none. */
function bodiesOf(operation: Operation): (unknown | undefined)[] {
  const schemas = names(operation.requestBody?.content['application/json']);
  if (schemas.length === 0) return [undefined];
  return schemas.map((name) => {
    expect(EXAMPLES, `an example ${name}`).toHaveProperty(name);
    return EXAMPLES[name];
  });
}

describe('every documented route answers its documented 200 schema', () => {
  it('documents a 200 body for every operation, naming only schemas the worker defines', async () => {
    const operations = await documentedOperations();
    expect(operations.length).toBeGreaterThanOrEqual(16);
    for (const [path, method, operation] of operations) {
      const content = operation.responses['200'].content ?? {};
      expect(Object.keys(content).length, `${method} ${path}`).toBeGreaterThan(0);
      for (const name of names(content['application/json'])) expect(RESPONSE_SCHEMAS).toHaveProperty(name);
    }
  });

  it('answers each operation with a documented media type and a body its schema parses', async () => {
    for (const [path, method, operation] of await documentedOperations()) {
      const content = operation.responses['200'].content ?? {};
      const accepts = path === '/' && method === 'get' ? ['text/html', 'application/json'] : ['application/json'];
      for (const body of bodiesOf(operation)) {
        for (const accept of accepts) {
          const label = `${method.toUpperCase()} ${path} ${JSON.stringify(body ?? null)} (Accept ${accept})`;
          const response = await call(path, { method: method.toUpperCase(), body, headers: { accept } });
          expect(response.status, label).toBe(200);
          const type = response.headers.get('content-type')?.split(';')[0] ?? '';
          expect(Object.keys(content), label).toContain(type);
          if (type !== 'application/json') {
            expect((await response.text()).length, label).toBeGreaterThan(0);
            continue;
          }
          const json = await response.json();
          const documented = names(content[type]) as ResponseSchemaName[];
          const errors = documented.map((name) => RESPONSE_SCHEMAS[name].safeParse(json).error?.message);
          expect(
            errors.some((error) => error === undefined),
            `${label}: ${JSON.stringify(json).slice(0, 200)} ${errors}`,
          ).toBe(true);
        }
      }
    }
  });

  it('refuses a body of the wrong shape: the schemas can fail', () => {
    expect(RESPONSE_SCHEMAS.TeiEmbedResponse.safeParse([['0.1']]).success).toBe(false);
    expect(RESPONSE_SCHEMAS.TeiTokenizeResponse.safeParse([[{ id: 1, text: 'a', special: false }]]).success).toBe(
      false,
    );
    expect(RESPONSE_SCHEMAS.OpenAiEmbeddingsResponse.safeParse({ object: 'list', data: [] }).success).toBe(false);
  });
});
