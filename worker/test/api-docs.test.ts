/**
 * GET /docs inside workerd: the OpenAPI document as a page, open without a key, listing every documented route and
 * schema, loading and running nothing, with the document's text escaped.
 */
import { describe, expect, it } from 'vitest';
import { call } from './helpers.js';

describe('GET /docs', () => {
  it('renders every route and schema of /openapi.json, without a key, as a page that loads nothing', async () => {
    const response = await call('/docs', {}, { API_KEYS: 'docs-key' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
    const page = await response.text();
    const document = (await (await call('/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const method of Object.keys(methods)) expect(page).toContain(`<code>${method.toUpperCase()} ${path}</code>`);
    }
    for (const name of Object.keys(document.components.schemas)) expect(page).toContain(`id="${name}"`);
    expect(page).toContain('<a href="#TeiEmbedResponse">TeiEmbedResponse</a>');
    expect(page).not.toMatch(/<script|src=/);
    // The document's own text is escaped: the health summary's quotes, the schemas' JSON.
    expect(page).toContain('{&quot;status&quot;:&quot;ok&quot;}');
    expect(page).not.toContain('"status":"ok"');
  });

  it('answers another method with 405, as every GET route does', async () => {
    const response = await call('/docs', { method: 'POST', body: {} });
    expect(response.status).toBe(405);
  });
});
