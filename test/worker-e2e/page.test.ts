/**
 * The page at GET / driven in headless Chromium (Debian's chromium package) against the worker in `wrangler dev`, with
 * an API key configured: the page loads without the key, ranking without it shows the 401, and with it the pasted
 * documents come back ranked with scores. Skipped only when /usr/bin/chromium is absent (CI installs it in .ci/run).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWranglerDev, type WranglerDev } from './wrangler-dev.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`page.test.ts skipped: ${CHROMIUM} is absent (install it: apt-get install -y chromium)`);

const API_KEY = 'e2e-page-key';

describe.skipIf(!haveChromium)('the page at / in headless Chromium against wrangler dev', () => {
  let dev: WranglerDev;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

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

  /** Clicks Rank until the page shows results or an error other than wrangler dev's occasional proxy 503. */
  async function clickRank(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await page.click('#rank');
      await page.waitForFunction(
        () => document.querySelectorAll('#results li').length > 0 || document.getElementById('status')?.className === 'error',
      );
      const status = await page.textContent('#status');
      if (!status?.startsWith('503')) return;
    }
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
  });
});
