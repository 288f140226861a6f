/**
 * The bad-input suite: 550 requests generated from a fixed seed (invalid JSON, wrong types, huge arrays, huge strings,
 * lone surrogates, NUL and control characters, deep nesting, wrong content types, oversized bodies, invalid UTF-8)
 * against every POST route, inside workerd. Nothing may answer >= 500 or take the isolate down; every refusal is a
 * JSON 4xx in the API's error shape, and the categories in MUST_REFUSE are always refused (a 200 there is a failure).
 * Prints a status histogram (docs/performance.md's figures).
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../model-packager/src/fixtures/random.js';
import worker from '../src/index.js';
import { testEnv } from './helpers.js';

const SEED = 20261126;
const PER_ROUTE = 110;
/** Small limits, so "too many" and "too large" are cheap to build; the default limits behave the same way. */
const LIMITS = { MAX_INPUTS: '64', MAX_INPUT_CHARS: '4096', MAX_BODY_BYTES: '262144' };
/**
 * Cases no valid request can be: they must get a 4xx, not merely "not a 5xx". A byte order mark before otherwise
 * valid JSON is not among them (RFC 8259 section 8.1 lets a parser ignore it): the generator files it separately.
 */
const MUST_REFUSE = new Set([
  'invalid JSON',
  'huge array',
  'huge string',
  'wrong content type',
  'form body',
  'oversized body',
]);

interface Route {
  path: string;
  valid(text: string): Record<string, unknown>;
}

const ROUTES: Route[] = [
  { path: '/v1/embeddings', valid: (text) => ({ input: [text], model: 'm' }) },
  { path: '/embed', valid: (text) => ({ inputs: [text], truncate: true }) },
  { path: '/tokenize', valid: (text) => ({ inputs: text }) },
  {
    path: '/v1/rank',
    valid: (text) => ({ query: text, documents: [text, { id: 'd', text: 'a document' }], top_k: 2 }),
  },
  { path: '/similarity', valid: (text) => ({ inputs: { source_sentence: text, sentences: [text, 'another'] } }) },
];

interface Case {
  /** The generator's category; a generator may file a case under another one (see MUST_REFUSE). */
  category: string;
  body: string | Uint8Array;
  contentType?: string;
}

function generate(route: Route, random: () => number): Case[] {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const word = () => Array.from({ length: 1 + int(8) }, () => String.fromCharCode(97 + int(26))).join('');
  const text = () => Array.from({ length: 1 + int(6) }, word).join(' ');
  const json = (value: unknown) => JSON.stringify(value);
  const oddValues = (): unknown[] => [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -0,
    '',
    ' ',
    'x',
    [],
    {},
    [null],
    [[]],
    [{}],
    [1, 'a'],
    [-1],
    [1.5],
    [2 ** 53],
    { text: 1 },
    { id: [], text: 'a' },
    [[1, 2], 'a'],
    Array.from({ length: 3 }, () => int(1_000_000_000)),
  ];
  // Replaces one value somewhere in the valid body (or the body itself) with a value of another type.
  const mutate = (value: unknown, depth = 0): unknown => {
    if (depth > 0 && random() < 0.35) return pick(oddValues());
    if (Array.isArray(value) && value.length > 0) {
      const copy = [...value];
      const i = int(copy.length);
      copy[i] = mutate(copy[i], depth + 1);
      return copy;
    }
    if (typeof value === 'object' && value !== null) {
      const copy: Record<string, unknown> = { ...value };
      const keys = Object.keys(copy);
      if (random() < 0.15)
        copy[
          pick(['top_k', 'dimensions', 'normalize', 'return_documents', 'truncate', 'encoding_format', 'raw_scores'])
        ] = pick(oddValues());
      else if (random() < 0.1) delete copy[pick(keys)];
      else {
        const key = pick(keys);
        copy[key] = mutate(copy[key], depth + 1);
      }
      return copy;
    }
    return pick(oddValues());
  };
  const validText = json(route.valid(text()));
  const controls = () =>
    Array.from({ length: 1 + int(20) }, () =>
      String.fromCharCode(pick([0, 1, 7, 8, 9, 10, 11, 12, 13, 27, 127, 0x85, 0x2028, 0xfeff])),
    ).join('');
  const surrogate = () => String.fromCharCode(0xd800 + int(0x800));
  const nest = (depth: number, open: string, close: string, inner: string) =>
    open.repeat(depth) + inner + close.repeat(depth);

  const generators: Array<[string, number, () => Omit<Case, 'category'> & { category?: string }]> = [
    [
      'invalid JSON',
      14,
      () => {
        const body = pick([
          validText.slice(0, int(validText.length)),
          validText + pick([',', '}', ']', 'x', '\u0000']),
          validText.replace(/"/g, "'"),
          validText.replace(/:/, ''),
          '',
          'null',
          `\ufeff${validText}`,
          'NaN',
          '{"input": [1,]}',
          Array.from({ length: 1 + int(200) }, () => String.fromCharCode(int(128))).join(''),
        ]);
        return body === `\ufeff${validText}` ? { body, category: 'byte order mark before valid JSON' } : { body };
      },
    ],
    ['wrong types', 24, () => ({ body: json(mutate(route.valid(text()))) })],
    ['wrong top-level', 6, () => ({ body: json(pick(oddValues())) })],
    [
      'huge array',
      8,
      () => {
        const n = pick([65, 100, 1000, 20_000]);
        const body = route.valid('x') as Record<string, unknown>;
        const items = Array.from({ length: n }, (_, i) => (random() < 0.5 ? `item ${i}` : i));
        const key = Object.keys(body)[0];
        return {
          body: json({
            ...body,
            [key]:
              key === 'inputs' && typeof body.inputs === 'object' && !Array.isArray(body.inputs)
                ? { source_sentence: 'q', sentences: items }
                : items,
            documents: items,
          }),
        };
      },
    ],
    ['huge string', 8, () => ({ body: json(route.valid('y'.repeat(pick([4097, 10_000, 100_000, 250_000])))) })],
    [
      'lone surrogates',
      10,
      () => {
        const t = `${text()}${surrogate()}${text()}${random() < 0.5 ? surrogate() : ''}`;
        // JSON.stringify writes lone surrogates as \\udxxx escapes; half the time send them as raw (invalid) UTF-16 instead.
        return {
          body:
            random() < 0.5
              ? json(route.valid(t))
              : `{"input":"${t}","inputs":"${t}","query":"${t}","documents":["${t}"]}`,
        };
      },
    ],
    ['NUL and control characters', 10, () => ({ body: json(route.valid(`${controls()}${text()}${controls()}`)) })],
    ['control characters only', 4, () => ({ body: json(route.valid(controls())) })],
    [
      'deep nesting',
      8,
      () => {
        const depth = pick([64, 1000, 10_000, 50_000]);
        const body = route.valid('x') as Record<string, unknown>;
        const key = Object.keys(body)[0];
        const inner = random() < 0.5 ? nest(depth, '[', ']', '"x"') : nest(depth, '{"a":', '}', '1');
        return { body: random() < 0.3 ? inner : `{"${key}":${inner}}` };
      },
    ],
    [
      'wrong content type',
      8,
      () => ({
        body: validText,
        contentType: pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          '',
          'application/json; charset=latin1',
          'application/octet-stream',
        ]),
      }),
    ],
    ['form body', 2, () => ({ body: 'input=hello&inputs=world', contentType: 'application/x-www-form-urlencoded' })],
    ['oversized body', 4, () => ({ body: json(route.valid('z'.repeat(pick([262_145, 600_000, 3_000_000])))) })],
    [
      'invalid UTF-8',
      4,
      () => {
        const bytes = new TextEncoder().encode(validText);
        const broken = new Uint8Array(bytes.length + 4);
        broken.set(bytes);
        const at = Math.max(1, int(bytes.length - 2));
        broken.set([0xff, 0xfe, 0xc3, 0x28], at);
        return { body: broken };
      },
    ],
  ];
  const cases: Case[] = [];
  while (cases.length < PER_ROUTE) {
    for (const [category, count, make] of generators) {
      for (let i = 0; i < count && cases.length < PER_ROUTE; i++) cases.push({ category, ...make() });
    }
  }
  return cases;
}

async function send(path: string, testCase: Case): Promise<Response> {
  const headers: Record<string, string> = {};
  if (testCase.contentType !== '') headers['content-type'] = testCase.contentType ?? 'application/json';
  const request = new Request(`http://edge-embed.test${path}`, { method: 'POST', body: testCase.body, headers });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...testEnv, ...LIMITS }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe('bad input', () => {
  it(`answers ${PER_ROUTE} seeded bad requests per POST route without a 5xx, always as JSON`, async () => {
    const random = mulberry32(SEED);
    const statuses: Record<string, number> = {};
    const failures: string[] = [];
    const mustRefuseCases: Record<string, number> = {};
    let total = 0;
    for (const route of ROUTES) {
      for (const [i, testCase] of generate(route, random).entries()) {
        total++;
        const response = await send(route.path, testCase);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const text = await response.text();
        const where = `${route.path} #${i} (${testCase.category}${testCase.contentType === undefined ? '' : `, content-type "${testCase.contentType}"`}): ${response.status} ${text.slice(0, 160)}`;
        if (MUST_REFUSE.has(testCase.category))
          mustRefuseCases[testCase.category] = (mustRefuseCases[testCase.category] ?? 0) + 1;
        if (response.status >= 500) failures.push(where);
        else if (MUST_REFUSE.has(testCase.category) && !(response.status >= 400 && response.status < 500))
          failures.push(`not refused with a 4xx: ${where}`);
        else if (response.status >= 400) {
          let code: unknown;
          try {
            code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
          } catch {
            code = undefined;
          }
          if (!response.headers.get('content-type')?.includes('application/json') || typeof code !== 'string')
            failures.push(`not a JSON error: ${where}`);
        } else if (response.status !== 200) failures.push(`unexpected status: ${where}`);
      }
      // The isolate is still serving after each route's batch.
      expect(
        (await worker.fetch(new Request('http://edge-embed.test/health'), testEnv, createExecutionContext())).status,
      ).toBe(200);
    }
    console.info(JSON.stringify({ event: 'bad_input_summary', seed: SEED, requests: total, statuses }));
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(500);
    // Every must-refuse category was really generated (a renamed category would otherwise go unchecked).
    for (const category of MUST_REFUSE) expect(mustRefuseCases[category] ?? 0, category).toBeGreaterThan(0);
  });
});
