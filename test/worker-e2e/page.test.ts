/**
 * The page at GET / driven in headless Chromium (Debian's chromium package) against the worker in `wrangler dev`, with
 * an API key configured: the page loads without the key, ranking without it shows the 401, and with it the pasted
 * documents come back ranked with scores. Every request the page makes to the worker goes through devFetch (routed by
 * Playwright), which resends only what wrangler dev's proxy itself dropped. Skipped when /usr/bin/chromium is absent,
 * except under EDGE_EMBED_NO_SKIP=1, where that fails (.ci/run installs chromium and sets it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needs } from '../support/requirements.js';
import { devFetch, startWranglerDev, type WranglerDev } from './wrangler-dev.js';

/** Debian's chromium package. .ci/run reads this line and checks the path exists after installing chromium. */
const CHROMIUM = '/usr/bin/chromium';

const API_KEY = 'e2e-page-key';
/** Headers that belong to one connection, which fetch sets itself. */
const HOP_BY_HOP = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

describe.skipIf(needs(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install -y chromium)`))(
  'the page at / in headless Chromium against wrangler dev',
  () => {
    let dev: WranglerDev;
    let profile: string;
    let context: BrowserContext;
    let page: Page;
    /** "METHOD /path" of every request the page made to the worker, as devFetch sent them. */
    const routed: string[] = [];

    beforeAll(async () => {
      dev = await startWranglerDev({ args: ['--var', `API_KEYS:${API_KEY}`] });
      profile = await mkdtemp(join(tmpdir(), 'edge-embed-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      // The page's requests to the worker are sent from here with devFetch, and its answers handed back to the page.
      await context.route(`${dev.url}/**`, async (route) => {
        const request = route.request();
        routed.push(`${request.method()} ${new URL(request.url()).pathname}`);
        const headers = Object.fromEntries(
          Object.entries(await request.allHeaders()).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
        );
        const body = request.postDataBuffer();
        const response = await devFetch(request.url(), {
          method: request.method(),
          headers,
          body: body === null ? undefined : new Uint8Array(body),
        });
        // fetch has already decoded the body, so its encoding and length headers no longer apply.
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          if (!['content-encoding', 'content-length', 'transfer-encoding'].includes(name))
            responseHeaders[name] = value;
        });
        await route.fulfill({
          status: response.status,
          headers: responseHeaders,
          body: Buffer.from(await response.arrayBuffer()),
        });
      });
      page = context.pages()[0] ?? (await context.newPage());
    });

    afterAll(async () => {
      await context?.close();
      if (profile !== undefined) await rm(profile, { recursive: true, force: true });
      await dev?.stop();
    });

    const documents = [
      'The central bank raised interest rates by half a point.',
      'My cat loves to sleep in the sun on the windowsill.',
      'Heavy rain and strong winds are expected this weekend.',
      'The new smartphone has a faster processor and a better camera.',
    ];

    /** Clicks Rank and waits until the page shows results or an error. */
    async function clickRank(): Promise<void> {
      await page.click('#rank');
      await page.waitForFunction(
        () =>
          document.querySelectorAll('#results li').length > 0 ||
          document.getElementById('status')?.className === 'error',
      );
    }

    it('loads without a key, refuses to rank without one, ranks the related document first with scores, embeds the query', async () => {
      const response = await page.goto(`${dev.url}/`);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('edge-embed');

      await page.fill('#documents', documents.join('\n'));
      await page.fill('#query', 'a kitten napping');
      await clickRank();
      expect(await page.getAttribute('#status', 'class')).toBe('error');
      expect(await page.textContent('#status')).toMatch(/^401: .*API key/);
      expect(await page.locator('#results li').count()).toBe(0);

      await page.fill('#api-key', API_KEY);
      await clickRank();
      const rows = page.locator('#results li');
      expect(await rows.count()).toBe(documents.length);
      const texts = await rows.locator('.text').allTextContents();
      expect(texts[0]).toBe(documents[1]);
      expect([...texts].sort()).toEqual([...documents].sort());
      const scores = (await rows.locator('.score').allTextContents()).map(Number);
      for (const score of scores) expect(Number.isFinite(score) && score >= -1 && score <= 1).toBe(true);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
      expect(scores[0]).toBeGreaterThan(scores[1]);
      expect(await page.textContent('#status')).toMatch(/ranked in \d+ ms/);

      await page.click('#embed');
      await page.waitForFunction(() => (document.getElementById('vector')?.textContent ?? '') !== '');
      expect(await page.textContent('#vector')).toMatch(/^\d+ dimensions: \[-?\d\.\d{4}, /);
      // The page, both rankings and the embedding all went through devFetch.
      expect(routed.filter((r) => r !== 'GET /favicon.ico')).toEqual([
        'GET /',
        'POST /v1/rank',
        'POST /v1/rank',
        'POST /v1/embeddings',
      ]);
    });
  },
);
