/**
 * Seeded bad requests for every route the app serves. The targets come from the app itself (`app.routes`) and each
 * POST route's valid body is built from its request schema in the OpenAPI document (which a test keeps equal to the
 * app's routes), so a route added to the app is fuzzed without touching this file. A generator applies to POST
 * targets (bodies), to every target (methods, paths, headers), or only where its precondition holds.
 */
import { isOpenPath } from '../../src/http/middleware/auth.js';

/** The part of JSON Schema that zod-to-json-schema writes for the wire schemas. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  $ref?: string;
}

/** One method and path the app serves; POST routes carry their body schemas. */
export interface Target {
  method: string;
  path: string;
  /** Every path's served methods, for "wrong method" cases. */
  methods: readonly string[];
  bodies: JsonSchema[];
}

export interface BadRequest {
  category: string;
  method: string;
  /** Path and query, as sent. */
  url: string;
  body?: string | Uint8Array;
  headers: Record<string, string>;
  /** Vars added to the test env for this request (API keys, CORS origins, rate limits...). */
  vars: Record<string, string>;
  /** No valid request can look like this: it must get a 4xx, not merely "not a 5xx". */
  mustRefuse: boolean;
}

/** The parts of the OpenAPI document read here: each operation's JSON body schema and the shared schemas. */
interface OpenApiLike {
  components: { schemas: Record<string, unknown> };
  paths: Record<string, Record<string, unknown>>;
}
type Operation = { requestBody?: { content: Record<string, { schema: JsonSchema } | undefined> } } | undefined;

/** The app's routes (middleware entries, method ALL, left out) with their body schemas from the OpenAPI document. */
export function targetsOf(routes: ReadonlyArray<{ method: string; path: string }>, openApi: OpenApiLike): Target[] {
  const served = routes.filter((route) => route.method !== 'ALL');
  const methodsOf = (path: string) => [...new Set(served.filter((r) => r.path === path).map((r) => r.method))];
  const unique = [...new Map(served.map((route) => [`${route.method} ${route.path}`, route])).values()];
  const resolve = (s: JsonSchema) =>
    (s.$ref === undefined ? s : openApi.components.schemas[s.$ref.replace('#/components/schemas/', '')]) as JsonSchema;
  return unique.map(({ method, path }) => {
    const operation = openApi.paths[path]?.[method.toLowerCase()] as Operation;
    const schema = operation?.requestBody?.content['application/json']?.schema;
    const bodies = schema === undefined ? [] : (schema.oneOf ?? [schema]).map(resolve);
    return { method, path, methods: methodsOf(path), bodies };
  });
}

type Random = () => number;

/** Small seeded helpers every generator uses. */
function tools(random: Random) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const word = () => Array.from({ length: 1 + int(8) }, () => String.fromCharCode(97 + int(26))).join('');
  const text = () => Array.from({ length: 1 + int(6) }, word).join(' ');
  return { random, int, pick, word, text };
}
type Tools = ReturnType<typeof tools>;

/** A value the schema accepts, with the optional fields present a third of the time. */
export function exampleOf(schema: JsonSchema, t: Tools): unknown {
  const choices = schema.anyOf ?? schema.oneOf;
  if (choices !== undefined) return exampleOf(t.pick(choices), t);
  if (schema.enum !== undefined) return t.pick(schema.enum);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(key) || t.random() < 0.33) out[key] = exampleOf(value, t);
      }
      return out;
    }
    case 'array':
      return Array.from({ length: 1 + t.int(3) }, () => exampleOf(schema.items ?? {}, t));
    case 'string':
      return t.text();
    case 'integer':
      return (schema.minimum ?? 0) + 1 + t.int(500);
    case 'number':
      return t.int(1000) / 10;
    case 'boolean':
      return t.random() < 0.5;
    default:
      return null;
  }
}

/** Property paths (through objects, not arrays) whose schema allows the type. */
function pathsAllowing(schema: JsonSchema, type: string, prefix: string[] = []): string[][] {
  const allows = (s: JsonSchema): boolean => s.type === type || (s.anyOf ?? s.oneOf ?? []).some(allows);
  const found: string[][] = prefix.length > 0 && allows(schema) ? [prefix] : [];
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    found.push(...pathsAllowing(value, type, [...prefix, key]));
  }
  return found;
}

function withPath(body: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const object = typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {};
  const [head, ...rest] = path;
  return { ...object, [head]: withPath((object as Record<string, unknown>)[head], rest, value) };
}

/** Values of every JSON type, including the edge cases of each. */
function oddValues(t: Tools): unknown[] {
  return [
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
    Array.from({ length: 3 }, () => t.int(1_000_000_000)),
  ];
}

/** Replaces one value somewhere in the body, or one of the schema's fields, with a value of another type. */
function mutate(value: unknown, schema: JsonSchema | undefined, t: Tools, depth = 0): unknown {
  if (depth > 0 && t.random() < 0.35) return t.pick(oddValues(t));
  if (Array.isArray(value) && value.length > 0) {
    const copy = [...value];
    const i = t.int(copy.length);
    copy[i] = mutate(copy[i], schema?.items, t, depth + 1);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...value };
    const fields = Object.keys(schema?.properties ?? copy);
    const key = t.pick(fields.length > 0 ? fields : ['x']);
    if (t.random() < 0.1) delete copy[key];
    else copy[key] = mutate(copy[key], schema?.properties?.[key], t, depth + 1);
    return copy;
  }
  return t.pick(oddValues(t));
}

/** The limits every case runs under: small, so "too many" and "too large" are cheap to build. */
export const LIMITS = { MAX_INPUTS: '64', MAX_INPUT_CHARS: '4096', MAX_BODY_BYTES: '262144' };

/** What a generator decides; the rest comes from the target. `contentType: null` sends none. */
type Draft = Partial<Omit<BadRequest, 'category'>> & { contentType?: string | null };
interface Generator {
  category: string;
  weight: number;
  /** Only POST targets with a body schema, or every target. */
  forBodies: boolean;
  make(target: Target, schema: JsonSchema, t: Tools): Draft;
}

const controls = (t: Tools) =>
  Array.from({ length: 1 + t.int(20) }, () =>
    String.fromCharCode(t.pick([0, 1, 7, 8, 9, 10, 11, 12, 13, 27, 127, 0x85, 0x2028, 0xfeff])),
  ).join('');
const surrogate = (t: Tools) => String.fromCharCode(0xd800 + t.int(0x800));
const nest = (depth: number, open: string, close: string, inner: string) =>
  open.repeat(depth) + inner + close.repeat(depth);

/** Every string field of a valid body set to `make()`; a body with no string field stays as it is. */
function stringsSetTo(schema: JsonSchema, t: Tools, make: () => string): unknown {
  let body = exampleOf(schema, t);
  for (const path of pathsAllowing(schema, 'string')) body = withPath(body, path, make());
  return body;
}

const BODY_GENERATORS: Generator[] = [
  {
    category: 'invalid JSON',
    weight: 12,
    forBodies: true,
    make: (_target, schema, t) => {
      const valid = JSON.stringify(exampleOf(schema, t));
      const body = t.pick([
        valid.slice(0, t.int(valid.length)),
        valid + t.pick([',', '}', ']', 'x', '\u0000']),
        valid.replace(/"/g, "'"),
        valid.replace(/:/, ''),
        '',
        'null',
        'NaN',
        '{"input": [1,]}',
        '{"a":1,"a":',
        Array.from({ length: 1 + t.int(200) }, () => String.fromCharCode(t.int(128))).join(''),
      ]);
      // 'null' is JSON, though no route takes it: refused all the same, as the wrong top-level value it is.
      return { body, mustRefuse: true };
    },
  },
  {
    category: 'byte order mark before valid JSON',
    weight: 1,
    forBodies: true,
    // RFC 8259 section 8.1 lets a parser ignore it: either answer is right, but never a 5xx.
    make: (_target, schema, t) => ({ body: `\ufeff${JSON.stringify(exampleOf(schema, t))}` }),
  },
  {
    category: 'wrong types',
    weight: 24,
    forBodies: true,
    make: (_target, schema, t) => ({ body: JSON.stringify(mutate(exampleOf(schema, t), schema, t)) }),
  },
  {
    category: 'wrong top-level',
    weight: 5,
    forBodies: true,
    make: (_target, _schema, t) => ({ body: JSON.stringify(t.pick(oddValues(t))) }),
  },
  {
    category: 'huge mixed array',
    weight: 6,
    forBodies: true,
    // Strings and numbers mixed: no field takes such an array, however long.
    make: (_target, schema, t) => {
      const n = t.pick([65, 100, 1000, 20_000]);
      const items = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `item ${i}` : i));
      const paths = pathsAllowing(schema, 'array');
      const body = paths.reduce((out, path) => withPath(out, path, items), exampleOf(schema, t));
      return { body: JSON.stringify(body), mustRefuse: paths.length > 0 };
    },
  },
  {
    category: 'huge array',
    weight: 4,
    forBodies: true,
    make: (_target, schema, t) => {
      const n = t.pick([65, 1000, 20_000]);
      const path = t.pick([...pathsAllowing(schema, 'array'), []]);
      const item = t.pick(['x', 1, 0, 'a longer text of several words']);
      return { body: JSON.stringify(withPath(exampleOf(schema, t), path, Array(n).fill(item))) };
    },
  },
  {
    category: 'huge strings',
    weight: 6,
    forBodies: true,
    make: (_target, schema, t) => {
      const length = t.pick([4097, 10_000, 100_000, 250_000]);
      const body = stringsSetTo(schema, t, () => 'y'.repeat(length));
      return { body: JSON.stringify(body), mustRefuse: pathsAllowing(schema, 'string').length > 0 };
    },
  },
  {
    category: 'lone surrogates',
    weight: 8,
    forBodies: true,
    make: (_target, schema, t) => {
      const odd = () => `${t.text()}${surrogate(t)}${t.text()}${t.random() < 0.5 ? surrogate(t) : ''}`;
      const json = JSON.stringify(stringsSetTo(schema, t, odd));
      // JSON.stringify writes lone surrogates as \udxxx escapes; half the time send them raw (invalid UTF-16) instead.
      return {
        body: t.random() < 0.5 ? json : json.replace(/\\u(d[89a-f][0-9a-f]{2})/g, (_, hex) => rawCodeUnit(hex)),
      };
    },
  },
  {
    category: 'NUL and control characters',
    weight: 8,
    forBodies: true,
    make: (_target, schema, t) => ({
      body: JSON.stringify(stringsSetTo(schema, t, () => `${controls(t)}${t.text()}${controls(t)}`)),
    }),
  },
  {
    category: 'control characters only',
    weight: 3,
    forBodies: true,
    make: (_target, schema, t) => ({ body: JSON.stringify(stringsSetTo(schema, t, () => controls(t))) }),
  },
  {
    category: 'deep nesting',
    weight: 6,
    forBodies: true,
    make: (_target, schema, t) => {
      const depth = t.pick([64, 1000, 10_000, 50_000]);
      const inner = t.random() < 0.5 ? nest(depth, '[', ']', '"x"') : nest(depth, '{"a":', '}', '1');
      const key = t.pick(Object.keys(schema.properties ?? { x: {} }));
      return { body: t.random() < 0.3 ? inner : `{"${key}":${inner}}` };
    },
  },
  {
    category: 'wrong content type',
    weight: 6,
    forBodies: true,
    make: (_target, schema, t) => ({
      body: JSON.stringify(exampleOf(schema, t)),
      contentType: t.pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/octet-stream',
        'application/jsonx',
        'json',
        ';',
      ]),
      mustRefuse: true,
    }),
  },
  {
    category: 'no content type',
    weight: 2,
    forBodies: true,
    make: (_target, schema, t) => ({ body: JSON.stringify(exampleOf(schema, t)), contentType: null, mustRefuse: true }),
  },
  {
    category: 'form body',
    weight: 2,
    forBodies: true,
    make: () => ({
      body: 'input=hello&inputs=world',
      contentType: 'application/x-www-form-urlencoded',
      mustRefuse: true,
    }),
  },
  {
    category: 'oversized body',
    weight: 3,
    forBodies: true,
    make: (_target, schema, t) => {
      // An unknown field is ignored by every route, so the padding makes any body too large.
      const padding = 'z'.repeat(t.pick([262_145, 600_000, 3_000_000]));
      const body = { ...(exampleOf(schema, t) as object), padding };
      return { body: JSON.stringify(body), mustRefuse: true };
    },
  },
  {
    category: 'invalid UTF-8',
    weight: 4,
    forBodies: true,
    make: (_target, schema, t) => {
      const bytes = new TextEncoder().encode(JSON.stringify(exampleOf(schema, t)));
      const broken = new Uint8Array(bytes.length + 4);
      broken.set(bytes);
      broken.set([0xff, 0xfe, 0xc3, 0x28], Math.max(1, t.int(bytes.length - 2)));
      return { body: broken };
    },
  },
  {
    category: 'token ids accepted',
    weight: 6,
    forBodies: true,
    // With TOKEN_ID_INPUTS=accept, id arrays reach the tokenizer and the model: out-of-vocabulary, huge, empty.
    make: (_target, schema, t) => {
      const id = () => t.pick([0, 1, 2, 100, 7279, 7280, 8000, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1]);
      const ids = () => Array.from({ length: t.pick([0, 1, 3, 200, 513]) }, id);
      const value = t.random() < 0.5 ? ids() : Array.from({ length: 1 + t.int(3) }, ids);
      const paths = pathsAllowing(schema, 'array');
      const body = withPath(exampleOf(schema, t), t.pick([...paths, ['input']]), value);
      return { body: JSON.stringify(body), vars: { TOKEN_ID_INPUTS: 'accept', AUTO_TRUNCATE: 'true' } };
    },
  },
];

/** Lone surrogate escapes (\udxxx) as the raw UTF-16 code unit. */
function rawCodeUnit(hex: string): string {
  return String.fromCharCode(Number.parseInt(hex, 16));
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

const ANY_ROUTE_GENERATORS: Generator[] = [
  {
    category: 'wrong method',
    weight: 6,
    forBodies: false,
    make: (target, schema, t) => {
      const wrong = ALL_METHODS.filter((m) => !target.methods.includes(m));
      if (wrong.length === 0) return { method: 'OPTIONS' };
      const method = t.pick(wrong);
      const body = method === 'GET' ? undefined : JSON.stringify(exampleOf(schema, t));
      return { method, body, mustRefuse: true };
    },
  },
  {
    category: 'HEAD or OPTIONS',
    weight: 2,
    forBodies: false,
    make: (_target, _schema, t) => ({ method: t.pick(['HEAD', 'OPTIONS']) }),
  },
  {
    category: 'path variant',
    weight: 6,
    forBodies: false,
    make: (target, _schema, t) => ({
      url: t.pick([
        `${target.path}/`,
        `${target.path}//`,
        `/${target.path}`,
        target.path.toUpperCase(),
        `${target.path}%`,
        `${target.path}%zz`,
        `${target.path}%ff%fe`,
        `/%ff${target.path}`,
        `${target.path}/..`,
        `${target.path}/${'a'.repeat(8000)}`,
        `${target.path};x=1`,
        `${target.path}%00`,
      ]),
    }),
  },
  {
    category: 'junk query',
    weight: 4,
    forBodies: false,
    make: (target, _schema, t) => ({
      url: `${target.path}?${t.pick(['%', '%ff', '&&&=', 'a=1&a=2&a[]=3', `q=${'x'.repeat(10_000)}`, 'input=hi', '=%zz'])}`,
    }),
  },
  {
    category: 'bad API key',
    weight: 6,
    forBodies: false,
    make: (target, _schema, t) => {
      const authorization = t.pick([
        undefined,
        '',
        'Bearer',
        'Bearer ',
        'Bearer wrong-key',
        'Bearer fuzz-key extra',
        'Basic ZnV6ei1rZXk6',
        'bearer\tfuzz-keyx',
        `Bearer ${'k'.repeat(10_000)}`,
        'Bearer fuzz-key,other-key',
      ]);
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      return { headers, vars: { API_KEYS: 'fuzz-key,other-key' }, mustRefuse: !isOpenPath(target.method, target.path) };
    },
  },
  {
    category: 'odd headers',
    weight: 6,
    forBodies: false,
    make: (_target, _schema, t) => ({
      headers: {
        [t.pick(['accept', 'origin', 'cf-connecting-ip', 'content-encoding', 'accept-encoding', 'x-forwarded-for'])]:
          t.pick([
            'text/html',
            '*/*',
            'garbage',
            'gzip',
            'https://evil.example',
            'null',
            '::1',
            'x'.repeat(8000),
            ',,',
          ]),
      },
      vars: t.pick<Record<string, string>>([
        {},
        { CORS_ALLOW_ORIGINS: 'https://ok.example' },
        { CORS_ALLOW_ORIGINS: '*' },
        { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_PERIOD_SECONDS: '60' },
      ]),
    }),
  },
  {
    category: 'CORS preflight',
    weight: 2,
    forBodies: false,
    make: (_target, _schema, t) => ({
      method: 'OPTIONS',
      headers: {
        origin: t.pick(['https://ok.example', 'https://evil.example', 'null', '']),
        'access-control-request-method': t.pick(['POST', 'GET', 'DELETE', 'BOGUS', '']),
        'access-control-request-headers': t.pick(['authorization, content-type', 'x-weird', '']),
      },
      vars: { CORS_ALLOW_ORIGINS: 'https://ok.example' },
    }),
  },
];

/**
 * `count` seeded bad requests for one target: body cases for a POST route with a body schema, method, path and
 * header cases for every route.
 */
export function casesFor(target: Target, random: Random, count: number): BadRequest[] {
  const t = tools(random);
  const generators = [...(target.bodies.length > 0 ? BODY_GENERATORS : []), ...ANY_ROUTE_GENERATORS];
  const cases: BadRequest[] = [];
  while (cases.length < count) {
    for (const generator of generators) {
      for (let i = 0; i < generator.weight && cases.length < count; i++) {
        const schema = target.bodies.length > 0 ? t.pick(target.bodies) : {};
        cases.push(complete(target, generator, generator.make(target, schema, t), t));
      }
    }
  }
  return cases;
}

/** A draft with the target's method and path, and a valid body and JSON content type unless the draft says otherwise. */
function complete(target: Target, generator: Generator, draft: Draft, t: Tools): BadRequest {
  const method = draft.method ?? target.method;
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const schema = target.bodies.length > 0 ? t.pick(target.bodies) : undefined;
  const body = hasBody
    ? (draft.body ?? (schema === undefined ? undefined : JSON.stringify(exampleOf(schema, t))))
    : undefined;
  const contentType: Record<string, string> =
    body === undefined || draft.contentType === null ? {} : { 'content-type': draft.contentType ?? 'application/json' };
  return {
    category: generator.category,
    method,
    url: draft.url ?? target.path,
    body,
    headers: { ...contentType, ...draft.headers },
    vars: draft.vars ?? {},
    mustRefuse: draft.mustRefuse ?? false,
  };
}
