/**
 * GET / : a one-file page to try the API in a browser. Paste documents (one per line), type a query, and see them
 * ranked by POST /v1/rank with their scores; "Embed query" shows the query's vector from POST /v1/embeddings. The page
 * itself needs no API key (it holds no data); the key typed into it is sent as a Bearer token and kept only in the
 * tab's sessionStorage. Everything the server returns is inserted as text, never as HTML.
 */

const script = String.raw`
const $ = (id) => document.getElementById(id);
const keyField = $('api-key');
keyField.value = sessionStorage.getItem('edge-embed-key') ?? '';
keyField.addEventListener('change', () => sessionStorage.setItem('edge-embed-key', keyField.value.trim()));

function documents() {
  return $('documents').value.split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

function setStatus(text, isError) {
  const status = $('status');
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

async function post(path, body) {
  const headers = { 'content-type': 'application/json' };
  const key = keyField.value.trim();
  if (key !== '') headers.authorization = 'Bearer ' + key;
  const started = performance.now();
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const message = json?.error?.message ?? response.statusText;
    throw new Error(response.status + ': ' + message + (response.status === 401 ? ' (enter an API key above)' : ''));
  }
  return { json, response, ms: Math.round(performance.now() - started) };
}

function cacheNote(response) {
  const hits = response.headers.get('x-cache-hits');
  const misses = response.headers.get('x-cache-misses');
  return hits === null ? '' : ', cache ' + hits + ' hit(s) / ' + misses + ' miss(es)';
}

async function rank(event) {
  event.preventDefault();
  const docs = documents();
  const query = $('query').value.trim();
  $('results').replaceChildren();
  $('vector').textContent = '';
  if (docs.length === 0 || query === '') return setStatus('Enter a query and at least one document.', true);
  setStatus('Ranking ' + docs.length + ' document(s)...');
  $('rank').disabled = true;
  try {
    const { json, response, ms } = await post('/v1/rank', { query, documents: docs, return_documents: true });
    for (const result of json.results) {
      const item = document.createElement('li');
      item.dataset.index = String(result.index);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = Math.max(0, result.score) * 100 + '%';
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = result.score.toFixed(4);
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = result.document;
      item.append(bar, score, text);
      $('results').append(item);
    }
    setStatus(json.model + ': ' + json.results.length + ' ranked in ' + ms + ' ms, ' + json.usage.total_tokens + ' tokens' + cacheNote(response));
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    $('rank').disabled = false;
  }
}

async function embedQuery() {
  const query = $('query').value.trim();
  if (query === '') return setStatus('Enter a query to embed.', true);
  $('vector').textContent = '';
  try {
    const { json, response, ms } = await post('/v1/embeddings', { input: query });
    const vector = json.data[0].embedding;
    $('vector').textContent = vector.length + ' dimensions: [' + vector.slice(0, 8).map((v) => v.toFixed(4)).join(', ') + ', ...]';
    setStatus(json.model + ': embedded in ' + ms + ' ms, ' + json.usage.total_tokens + ' tokens' + cacheNote(response));
  } catch (error) {
    setStatus(error.message, true);
  }
}

$('form').addEventListener('submit', rank);
$('embed').addEventListener('click', embedQuery);
`;

const style = `
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1c1c1c; }
  h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
  p.lead { margin-top: 0; color: #555; }
  label { display: block; font-weight: 600; margin: 0.9rem 0 0.3rem; }
  input, textarea { width: 100%; box-sizing: border-box; font: inherit; padding: 0.45rem; border: 1px solid #bbb; border-radius: 4px; }
  textarea { min-height: 9rem; font-family: ui-monospace, monospace; font-size: 13px; }
  .row { display: flex; gap: 0.5rem; margin-top: 0.8rem; }
  button { font: inherit; padding: 0.45rem 1.1rem; border: 0; border-radius: 4px; background: #f38020; color: #fff; cursor: pointer; }
  button.secondary { background: #e4e4e4; color: #1c1c1c; }
  button:disabled { opacity: 0.6; cursor: progress; }
  #status { margin: 0.9rem 0 0.4rem; color: #555; min-height: 1.4em; }
  #status.error { color: #b00020; }
  #vector { font-family: ui-monospace, monospace; font-size: 13px; word-break: break-all; }
  ol { padding-left: 1.6rem; }
  li { position: relative; isolation: isolate; background: #f6f6f6; margin: 0.25rem 0; padding: 0.3rem 0.5rem; border-radius: 4px; overflow: hidden; }
  li .bar { position: absolute; inset: 0 auto 0 0; background: #fde3cc; z-index: -1; }
  li .score { display: inline-block; width: 4.5rem; font-family: ui-monospace, monospace; font-weight: 600; }
  small { color: #777; }
`;

/** The page's HTML. */
export const playgroundHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-embed</title>
<style>${style}</style>
</head>
<body>
<h1>edge-embed</h1>
<p class="lead">Rank documents by meaning: each line below is a document, ordered by cosine similarity to the query.</p>
<form id="form">
  <label for="api-key">API key <small>(only when the server has API_KEYS; kept in this tab)</small></label>
  <input id="api-key" type="password" autocomplete="off" placeholder="sk-...">
  <label for="documents">Documents, one per line</label>
  <textarea id="documents" placeholder="The cat sleeps on the sofa.&#10;Stock markets fell sharply today.&#10;A recipe for lemon cake."></textarea>
  <label for="query">Query</label>
  <input id="query" type="text" placeholder="where is the kitten?">
  <div class="row">
    <button id="rank" type="submit">Rank</button>
    <button id="embed" type="button" class="secondary">Embed query</button>
  </div>
</form>
<div id="status" role="status" aria-live="polite"></div>
<div id="vector"></div>
<ol id="results"></ol>
<script>${script}</script>
</body>
</html>
`;

/** `'sha256-...'` of a text, as a CSP source expression. */
async function cspHash(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}

/**
 * The page's Content-Security-Policy: its one inline script and one inline style by hash (nothing else runs or
 * applies, not even an injected inline script), requests only to its own origin, no framing, no forms elsewhere.
 * @example await playgroundPolicy() // "default-src 'none'; script-src 'sha256-...'; ..."
 */
export async function playgroundPolicy(): Promise<string> {
  // Two SHA-256 digests of a few KB per page load: cheaper than keeping state for them.
  const [scriptHash, styleHash] = await Promise.all([cspHash(script), cspHash(style)]);
  return [
    "default-src 'none'",
    `script-src ${scriptHash}`,
    `style-src ${styleHash}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The page as a response, with {@link playgroundPolicy}.
 * @example app.get('/', () => playgroundResponse())
 */
export async function playgroundResponse(): Promise<Response> {
  return new Response(playgroundHtml, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': await playgroundPolicy(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
  });
}
