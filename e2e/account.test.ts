// After a purchase, and the account (issue 19, items 4 and 5), in Chromium (playwright-core,
// /usr/bin/chromium), every part its own process: a student buys an item and finds the seller's
// name and e-mail in « Mes achats »; the seller finds « vendu à … » in « Mes articles » and the
// mail in the outbox. Each page at 1280 and 390 px (no sideways scrolling on the phone);
// « Mot de passe oublié » is followed through the link of the mail in the outbox, and an account is
// deleted, after which the other party sees « compte supprimé ». Screenshots in e2e/artifacts/
// (git-ignored): achats-*.png, mot-de-passe-*.png, suppression-*.png.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createPrismaClient } from '@etu/db';
import { Accounts } from '@etu/auth';
import { testLogger } from '@etu/testkit';
import { logInWithForm, openChromium, shotsAtBothWidths, type OpenBrowser, visibleText } from './chromium';
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(180_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;
let browser: OpenBrowser;
let page: Page;
let atlasId = '';

const text = (selector?: string): Promise<string> => visibleText(page, selector);

/** Screenshots of the current page at both widths (e2e/chromium.ts). */
async function shots(name: string) {
  await shotsAtBothWidths(page, ARTIFACTS, name);
}

/** The outbox's mails, oldest first (the gateway writes one .eml file per mail). */
function outbox(): string[] {
  const dir = sys.env.MAIL_OUTBOX_DIR!;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

async function waitForMail(count: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const mails = outbox();
    if (mails.length >= count) return mails;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected ${count} mails in the outbox`);
}

const logIn = (email: string, password = PASSWORD) => logInWithForm(page, sys.url, email, password);

async function logOut() {
  await page.click('header button:has-text("Se déconnecter")');
  await page.waitForURL(`${sys.url}/`);
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
    const l = await prisma.listing.create({
      data: {
        sellerId: seller.id,
        title: 'Atlas de géographie humaine',
        category: 'BOOK',
        priceCents: 1250,
        description: 'Remise à la BU.',
      },
    });
    atlasId = String(l.id);
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

test('after a purchase, the buyer finds the seller’s contact in « Mes achats », the seller the buyer’s and a mail', async () => {
  await logIn('bruno@etu.example');
  await page.goto(`${sys.url}/articles/${atlasId}`);
  await page.click('main >> text=Acheter');
  await page.waitForURL(`${sys.url}/articles/${atlasId}/acheter`);
  await page.click('button:has-text("Confirmer l\'achat")');
  await page.waitForURL(/\/services$/);
  expect(await text()).toContain('Les coordonnées du vendeur sont dans « Mes achats »');

  await page.click('nav >> text=Mes achats');
  await page.waitForURL(/\/achats$/);
  const mine = await text();
  expect(mine).toContain('Atlas de géographie humaine');
  expect(mine).toContain('Vendu par Camille Vendeuse · camille@etu.example');
  await shots('achats');
  await logOut();

  // The seller: « vendu à … » with the buyer's contact, and the mail that told them.
  await logIn('camille@etu.example');
  expect(await text()).toContain('vendu à Bruno Acheteur · bruno@etu.example');
  await shots('achats-vendeur');
  const [mail] = await waitForMail(1);
  expect(mail).toMatch(/^To: camille@etu\.example$/m);
  await logOut();
});

test('« Mot de passe oublié »: the link in the mail sets a new password', async () => {
  const before = outbox().length;
  await page.goto(`${sys.url}/login`);
  await page.click('text=Mot de passe oublié ?');
  await page.waitForURL(/\/mot-de-passe-oublie$/);
  await shots('mot-de-passe-demande');
  await page.fill('#email', 'bruno@etu.example');
  await page.click('main button:has-text("Recevoir le lien")');
  await page.waitForURL(/\/mot-de-passe-oublie$/);
  expect(await text()).toContain('Si un compte existe avec cette adresse, un e-mail vient de lui être envoyé');
  await shots('mot-de-passe-envoye');

  const mails = await waitForMail(before + 1);
  const mail = mails[mails.length - 1]!;
  expect(mail).toMatch(/^To: bruno@etu\.example$/m);
  const body = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const link = /http:\/\/\S+\/mot-de-passe\/nouveau\?jeton=[\w%-]+/.exec(body)?.[0];
  expect(link?.startsWith(`${sys.url}/mot-de-passe/nouveau?jeton=`)).toBe(true);

  await page.goto(link!);
  expect(await text()).toContain('Choisissez un nouveau mot de passe');
  await shots('mot-de-passe-nouveau');
  await page.fill('#password', 'ma nouvelle phrase de passe');
  await page.click('main button:has-text("Enregistrer le mot de passe")');
  await page.waitForURL(/\/login$/);
  expect(await text()).toContain('Votre mot de passe est changé');
  await shots('mot-de-passe-change');

  // The link works once.
  await page.goto(link!);
  expect(await text()).toContain('Ce lien n’est plus valable');
  await shots('mot-de-passe-lien-expire');
  await logIn('bruno@etu.example', 'ma nouvelle phrase de passe');
  await logOut();
});

test('« Supprimer mon compte », then the other party sees « compte supprimé »; the legal page', async () => {
  await logIn('camille@etu.example');
  await page.click('nav >> text=Mon compte');
  await page.waitForURL(/\/compte$/);
  await shots('suppression-compte');
  await page.fill('#password', PASSWORD);
  await page.click('main button:has-text("Supprimer définitivement mon compte")');
  await page.waitForURL(`${sys.url}/`);
  expect(await text()).toContain('Votre compte est supprimé');
  await shots('suppression-faite');

  await logIn('bruno@etu.example', 'ma nouvelle phrase de passe');
  await page.goto(`${sys.url}/achats`);
  const mine = await text();
  expect(mine).toContain('Atlas de géographie humaine');
  expect(mine).toContain('Vendu par compte supprimé');
  expect(mine).not.toContain('camille@etu.example');
  await shots('suppression-achats');

  await page.click('footer >> text=Mentions légales et données personnelles');
  await page.waitForURL(/\/mentions-legales$/);
  expect(await text()).toContain('Sauvegardes');
  await shots('suppression-mentions-legales');
});
