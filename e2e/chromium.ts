// Chromium for the browser tests: playwright-core with Debian's /usr/bin/chromium, a fresh
// profile, French locale and Paris time, at laptop width; `close` removes the profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface OpenBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** `bypassCSP`: let the test add script tags (axe-core) despite the site's strict CSP. */
export async function openChromium(opts: { bypassCSP?: boolean } = {}): Promise<OpenBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'etu-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: LAPTOP,
    locale: 'fr-FR',
    timezoneId: 'Europe/Paris',
    bypassCSP: opts.bypassCSP ?? false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Screenshots of the current page at both widths, `<dir>/<name>.png` (1280 px) and
 * `<name>-telephone.png` (390 px); at the phone width the page must not scroll sideways.
 */
export async function shotsAtBothWidths(page: Page, dir: string, name: string): Promise<void> {
  // From the top: a page left scrolled (after a form post to an anchor) draws its sticky header
  // in the middle of a full-page capture.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  expect({ page: name, overflow }).toEqual({ page: name, overflow: 0 });
  await page.screenshot({ path: join(dir, `${name}-telephone.png`), fullPage: true });
  await page.setViewportSize(LAPTOP);
}

/** The visible text of `selector` (the page's main by default), whitespace folded to single spaces. */
export async function visibleText(page: Page, selector = 'main'): Promise<string> {
  return (await page.locator(selector).innerText()).replace(/\s+/g, ' ');
}

/** Logs in through the login form at `url` and waits for the services page. */
export async function logInWithForm(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('main button:has-text("Se connecter")');
  await page.waitForURL(/\/services$/);
}
