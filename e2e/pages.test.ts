// Every page of the site (e2e/pages.ts, one list) in Chromium at 1280 and 390 px: the expected
// status and text, no sideways scrolling, and axe-core (injected from its file, no network)
// finds no serious or critical accessibility violation. Screenshots of both widths go to
// e2e/artifacts/ (git-ignored): page-<name>.png and page-<name>-telephone.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createPrismaClient, Role } from '@etu/db';
import { Accounts } from '@etu/auth';
import { testLogger } from '@etu/testkit';
import { LAPTOP, logInWithForm, openChromium, PHONE, type OpenBrowser } from './chromium';
import { SITE_PAGES, type SiteFixture, type Viewer } from './pages';
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(600_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const AXE = require.resolve('axe-core/axe.min.js');
const PASSWORD = 'une phrase de passe solide';
const QUOTA_EMAIL = 'quentin.quota@etu.example';
const ACCOUNTS: Record<Exclude<Viewer, 'visiteur'>, string> = { etudiant: 'lea@etu.example', admin: 'aude.admin@etuservices.example' };

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

let sys: RunningSystem;
let browser: OpenBrowser;
let page: Page;
let site: SiteFixture;

/** axe-core's serious and critical violations on the current page, as short lines. */
async function axeViolations(): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate<AxeViolation[]>(`axe
    .run(document, { resultTypes: ['violations'] })
    .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

async function overflow(): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

const logIn = (email: string) => logInWithForm(page, sys.url, email, PASSWORD);

/** The accounts and listings the pages show (written straight into the system's database). */
async function seedSite(databaseUrl: string): Promise<Omit<SiteFixture, 'url' | 'password' | 'quotaEmail'>> {
  const prisma = createPrismaClient(databaseUrl);
  try {
    const accounts = new Accounts(prisma, testLogger());
    const person = async (firstName: string, lastName: string, email: string, role?: Role) => {
      await accounts.register({ firstName, lastName, email, password: PASSWORD }, role ? { role } : undefined);
      return (await prisma.user.findUniqueOrThrow({ where: { email } })).id;
    };
    await person('Aude', 'Admin', ACCOUNTS.admin, Role.ADMIN);
    const lea = await person('Léa', 'Étudiante', ACCOUNTS.etudiant);
    const camille = await person('Camille', 'Vendeuse', 'camille@etu.example');
    await person('Quentin', 'Quota', QUOTA_EMAIL);
    const listing = (sellerId: number, title: string, category: 'BOOK' | 'DVD' | 'OTHER', priceCents: number, buyerId?: number) =>
      prisma.listing.create({
        data: {
          sellerId,
          title,
          category,
          priceCents,
          description: 'Très bon état.',
          ...(buyerId ? { status: 'vendu' as const, buyerId, soldAt: new Date() } : {}),
        },
      });
    const item = await listing(camille, 'Statistique et probabilités – cours et exercices', 'BOOK', 1200);
    const bought = await listing(camille, 'La Haine (DVD)', 'DVD', 600, lea);
    // Léa's own listings: a long title (the phone layout must wrap it by words) and a sold one.
    const own = await listing(
      lea,
      'Introduction à l’algèbre linéaire et à la géométrie analytique – 4e édition revue et augmentée',
      'BOOK',
      2450,
    );
    await listing(lea, 'Calculatrice Casio Graph 35+E II', 'OTHER', 4000, camille);
    return { itemId: String(item.id), boughtId: String(bought.id), ownId: String(own.id) };
  } finally {
    await prisma.$disconnect();
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sys = await startWholeSystem();
  site = { url: sys.url, password: PASSWORD, quotaEmail: QUOTA_EMAIL, ...(await seedSite(sys.databaseUrl)) };
  // axe-core is added as a script tag: the site's CSP (no inline script) is bypassed for it.
  browser = await openChromium({ bypassCSP: true });
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

test('the list covers visitors, students, the admin and the error pages', () => {
  const names = SITE_PAGES.map((p) => p.name);
  expect(new Set(names).size).toBe(names.length);
  for (const status of [400, 403, 404, 429]) expect(SITE_PAGES.some((p) => p.status === status)).toBe(true);
  for (const viewer of ['visiteur', 'etudiant', 'admin']) expect(SITE_PAGES.some((p) => p.viewer === viewer)).toBe(true);
});

test('every page at 1280 and 390 px: no sideways scrolling, no serious or critical axe-core violation', async () => {
  const problems: string[] = [];
  let viewer: Viewer = 'visiteur';
  for (const viewerOfGroup of ['visiteur', 'etudiant', 'admin'] as const) {
    if (viewerOfGroup !== viewer) {
      if (viewer !== 'visiteur') {
        await page.goto(`${sys.url}/`);
        await page.click('button:has-text("Se déconnecter")');
      }
      viewer = viewerOfGroup;
      await logIn(ACCOUNTS[viewer as Exclude<Viewer, 'visiteur'>]);
    }
    for (const p of SITE_PAGES.filter((x) => x.viewer === viewerOfGroup)) {
      for (const [width, suffix] of [
        [LAPTOP, ''],
        [PHONE, '-telephone'],
      ] as const) {
        await page.setViewportSize(width);
        // A page that spends the quota is opened once (at the laptop width); at the phone width
        // its answer is shown again by reloading nothing: the same document is measured.
        if (!(p.spendsQuota && suffix)) {
          const status = await p.open(page, site).catch((err: unknown) => {
            problems.push(`${p.name}${suffix}: could not be opened: ${(err as Error).message.split('\n')[0]}`);
            return -1;
          });
          if (status === -1) continue;
          if (status !== p.status) problems.push(`${p.name}${suffix}: status ${status}, expected ${p.status}`);
        }
        const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
        const expected = p.shows;
        if (typeof expected === 'string' ? !text.includes(expected) : !expected.test(text)) {
          problems.push(`${p.name}${suffix}: does not show ${String(expected)}`);
        }
        const sideways = await overflow();
        if (sideways > 0) problems.push(`${p.name}${suffix}: scrolls ${sideways} px sideways`);
        for (const v of await axeViolations()) problems.push(`${p.name}${suffix}: ${v}`);
        await page.screenshot({ path: join(ARTIFACTS, `page-${p.name}${suffix}.png`), fullPage: true });
      }
      await page.setViewportSize(LAPTOP);
    }
  }
  expect(problems).toEqual([]);
});
