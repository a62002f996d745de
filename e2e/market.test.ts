// Browsing and buying in Chromium (playwright-core, /usr/bin/chromium), every part its own
// process: a visitor sees the latest items on the home page and searches « evolution » without
// an account, opens the item, logs in, clicks « Acheter », reads the confirmation and confirms:
// the one counted Achat. Each page at 1280 and 390 px (no horizontal scrolling on the phone);
// screenshots in e2e/artifacts/ (git-ignored): marche-*.png and marche-*-telephone.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createPrismaClient } from '@etu/db';
import { Accounts } from '@etu/auth';
import { testLogger } from '@etu/testkit';
import { openChromium, shotsAtBothWidths, type OpenBrowser, visibleText } from './chromium';
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(180_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;
let browser: OpenBrowser;
let page: Page;
let evolutionId = '';

const text = (selector?: string): Promise<string> => visibleText(page, selector);

/** Screenshots of the current page at both widths (e2e/chromium.ts). */
async function shots(name: string) {
  await shotsAtBothWidths(page, ARTIFACTS, `marche-${name}`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sys = await startWholeSystem();
  const prisma = createPrismaClient(sys.databaseUrl);
  try {
    const accounts = new Accounts(prisma, testLogger());
    await accounts.register({ firstName: 'Camille', lastName: 'Vendeuse', email: 'camille@etu.example', password: PASSWORD });
    await accounts.register({ firstName: 'Bruno', lastName: 'Acheteur', email: 'bruno@etu.example', password: PASSWORD });
    const seller = await prisma.user.findUniqueOrThrow({ where: { email: 'camille@etu.example' } });
    const items = [
      ['Evolution des espèces – Charles Darwin', 'BOOK', 900, 'Édition de poche, bon état.\nRemise en main propre sur le campus.'],
      ['Le Petit Prince', 'BOOK', 350, 'Folio, couverture un peu cornée.'],
      ['La Haine (DVD)', 'DVD', 600, 'Version restaurée, boîtier d’origine.'],
      ['Calculatrice Casio Graph 35+E II (mode examen)', 'OTHER', 4000, 'Autorisée aux examens, avec câble USB.'],
    ] as const;
    for (const [title, category, priceCents, description] of items) {
      const l = await prisma.listing.create({ data: { sellerId: seller.id, title, category, priceCents, description } });
      if (title.startsWith('Evolution')) evolutionId = String(l.id);
    }
  } finally {
    await prisma.$disconnect();
  }
  browser = await openChromium();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

test('a visitor searches, opens an item, logs in, and buys it after a confirmation step', async () => {
  // The home page shows the latest items to a visitor.
  await page.goto(`${sys.url}/`);
  expect(await text('#derniers-titre')).toBe('Derniers articles');
  expect(await text()).toContain('Calculatrice Casio Graph 35+E II');
  await shots('accueil');

  // Search without an account: « evolution » (no accent) finds « Evolution des espèces ».
  await page.click('nav >> text=Articles');
  await page.waitForURL(/\/articles$/);
  expect(await text('#resultats-titre')).toBe('4 articles disponibles');
  await page.fill('#q', 'évolution');
  await page.selectOption('#tri', 'prix_croissant');
  await page.click('main button:has-text("Rechercher")');
  await page.waitForURL(/\/articles\?q=/);
  expect(await text('#resultats-titre')).toBe('1 article pour cette recherche');
  await shots('recherche');

  // The item page: every detail, the seller's first name and initial.
  await page.click('text=Evolution des espèces – Charles Darwin');
  await page.waitForURL(`${sys.url}/articles/${evolutionId}`);
  const item = await text();
  expect(item).toContain('9,00 €');
  expect(item).toContain('Vendu par Camille V.');
  expect(item).toContain('Remise en main propre sur le campus.');
  await shots('article');

  // Log in to buy: the login brings the student back to the item, where « Acheter » shows the
  // confirmation, which counts nothing.
  await page.click('text=Se connecter pour acheter');
  await page.waitForURL(`${sys.url}/login?retour=%2Farticles%2F${evolutionId}`);
  await page.fill('#email', 'bruno@etu.example');
  await page.fill('#password', PASSWORD);
  await page.click('main button:has-text("Se connecter")');
  await page.waitForURL(`${sys.url}/articles/${evolutionId}`);
  await page.click('main >> text=Acheter');
  await page.waitForURL(`${sys.url}/articles/${evolutionId}/acheter`);
  expect(await text()).toContain("Confirmer l'achat");
  expect(await text('#quota')).toBe('Il vous reste 10 actions sur 10.');
  await shots('confirmation');

  // Confirming is the one counted Achat call.
  await page.click('button:has-text("Confirmer l\'achat")');
  await page.waitForURL(/\/services$/);
  expect(await text()).toContain('Vous avez acheté « Evolution des espèces – Charles Darwin » pour 9,00');
  expect(await text('#quota')).toMatch(/^Il vous reste 9 actions sur 10/);
  await page.goto(`${sys.url}/articles/${evolutionId}`);
  expect(await text()).toContain('Vous avez acheté cet article.');
  await shots('article-achete');

  // An unknown item: the French 404 page.
  const res = await page.goto(`${sys.url}/articles/999999`);
  expect(res?.status()).toBe(404);
  expect(await text()).toContain("Cet article n'existe pas ou plus");
  await shots('article-introuvable');
});
