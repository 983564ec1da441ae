// Headless Debian Chromium driven by playwright-core, as the UI tests use it:
// a fresh profile per browser, the flags that keep Chromium off the network,
// and a watch on every page for console errors, uncaught exceptions, failed
// requests and error answers that the test did not expect.
import { access, rm } from 'node:fs/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from './registry.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export async function haveChromium(): Promise<boolean> {
  return access(CHROMIUM).then(
    () => true,
    () => false,
  );
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** problems seen so far (console errors, page errors, failed requests, unexpected 4xx/5xx) */
  problems: string[];
  /** answers with this status from URLs containing `part` are expected once each (a refusal being tested) */
  expect(status: number, part: string): void;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Watched> {
  const profile = await tempDir('nora-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1100, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  const expected: { status: number; part: string }[] = [];
  /** URLs whose error answer was expected: Chromium also logs those to the console */
  const excused = new Set<string>();
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const url = m.location().url;
    const isExpected = m.text().startsWith('Failed to load resource') && (excused.has(url) || expected.some((e) => url.includes(e.part)));
    if (!isExpected) problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The browser's own favicon fetch is cancelled when the test moves on to the next page first.
    if (r.failure()?.errorText === 'net::ERR_ABORTED' && /\/ui\/assets\/icon\.[0-9a-f]+\.svg$/.test(r.url())) return;
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const i = expected.findIndex((e) => e.status === r.status() && r.url().includes(e.part));
    if (i >= 0) {
      expected.splice(i, 1);
      excused.add(r.url());
    }
    else problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return {
    context,
    page,
    problems,
    expect: (status, part) => void expected.push({ status, part }),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Presses Tab until the focused element matches `selector` (keyboard only, as a user would), then returns. */
export async function tabTo(page: Page, selector: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}
