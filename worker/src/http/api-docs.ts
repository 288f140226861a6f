/**
 * GET /docs: the API reference page TEI serves beside its OpenAPI document, rendered on the server from the same
 * document (openApiDocument()), so the two cannot disagree: every route with its method, summary and whether it needs
 * a key, its request and 200 body schemas, and the schemas themselves. No script and no external asset; hono/html
 * escapes every interpolated value.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { openApiDocument } from './openapi.js';

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;
interface SchemaRef {
  $ref?: string;
  oneOf?: { $ref?: string }[];
}
interface DocumentedOperation {
  summary: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: SchemaRef }> };
  responses: { '200': { content?: Record<string, { schema: SchemaRef }> } };
}

/** The headers of the page: it loads nothing, runs nothing, and is not sniffed as anything but HTML. */
export const API_DOCS_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const schemaName = (ref: string | undefined) => ref?.split('/').pop() ?? '';

/** Links to the named schemas, "a | b" for a oneOf, or the media type's bare schema. */
function schemaLinks(content: Record<string, { schema: SchemaRef }> | undefined): Page[] {
  return Object.entries(content ?? {}).map(([mediaType, { schema }]) => {
    const refs = (schema.oneOf ?? (schema.$ref ? [schema] : [])).map((s) => schemaName(s.$ref));
    const links = refs.map((name, i) => html`${i > 0 ? ' | ' : ''}<a href="#${name}">${name}</a>`);
    return html`<code>${mediaType}</code> ${refs.length > 0 ? links : 'text'} `;
  });
}

function operationRow(path: string, method: string, operation: DocumentedOperation): Page {
  const open = Array.isArray(operation.security) && operation.security.length === 0;
  return html`<tr>
    <td><code>${method.toUpperCase()} ${path}</code></td>
    <td>${operation.summary}</td>
    <td>${open ? 'no' : 'yes'}</td>
    <td>${operation.requestBody ? schemaLinks(operation.requestBody.content) : ''}</td>
    <td>${schemaLinks(operation.responses['200'].content)}</td>
  </tr>`;
}

/**
 * The page.
 * @example app.get('/docs', (c) => c.html(apiDocsPage(), 200, API_DOCS_HEADERS))
 */
export function apiDocsPage(): Page {
  const document = openApiDocument();
  const rows = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => operationRow(path, method, operation as DocumentedOperation)),
  );
  const schemas = Object.entries(document.components.schemas).map(
    ([name, schema]) => html`<h3 id="${name}">${name}</h3>
      <pre>${JSON.stringify(schema, null, 2)}</pre>`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${document.info.title} API</title>
        <style>
          body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
          table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
          pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
        </style>
      </head>
      <body>
        <h1>${document.info.title} API</h1>
        <p>OpenAPI ${document.openapi}, machine-readable at <a href="/openapi.json">/openapi.json</a>. Routes that need a key take <code>Authorization: Bearer &lt;key&gt;</code>; every error has the <a href="#Error">Error</a> body.</p>
        <table>
          <thead><tr><th>route</th><th>what it does</th><th>needs a key</th><th>request body</th><th>200 body</th></tr></thead>
          <tbody>${rows}</tbody>
        </table>
        <h2>Schemas</h2>
        ${schemas}
      </body>
    </html>`;
}
