// The whole site in Chromium (playwright-core, the system's /usr/bin/chromium): every part runs
// as its own process from its built dist/main.js. Two students sign up (and are logged in
// directly); one sells, the other buys and then exhausts the quota and reads the French refusal,
// the sale form still filled in; the admin reads the statistics. Screenshots of each page (laptop and phone) go to e2e/artifacts/ (git-ignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createPrismaClient, Role } from '@etu/db';
import { Accounts } from '@etu/auth';
import { testLogger } from '@etu/testkit';
import { LAPTOP, openChromium, PHONE, type OpenBrowser, visibleText } from './chromium';
import { startWholeSystem, type RunningSystem } from './system';

jest.setTimeout(180_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;
let browser: OpenBrowser;
let page: Page;

const ALICE = { prenom: 'Alice', nom: 'Vendeuse', email: 'alice.vendeuse@etu.example' };
const BRUNO = { prenom: 'Bruno', nom: 'Acheteur', email: 'bruno.acheteur@etu.example' };
const ADMIN = { firstName: 'Aude', lastName: 'Admin', email: 'aude.admin@etuservices.example' };

async function shot(name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const text = (selector?: string): Promise<string> => visibleText(page, selector);

async function signUp(u: typeof ALICE, screenshot?: string) {
  await page.goto(`${sys.url}/inscription`);
  await page.fill('#prenom', u.prenom);
  await page.fill('#nom', u.nom);
  await page.fill('#email', u.email);
  await page.fill('#password', PASSWORD);
  if (screenshot) await shot(screenshot);
  await page.click('button:has-text("Créer mon compte")');
  // Logged in directly (one of the user's 10 logins).
  await page.waitForURL(`${sys.url}/services`);
  expect(await text()).toContain(`Bienvenue ${u.prenom} ! Votre compte est créé et vous êtes connecté·e.`);
  expect(await text('.site-header')).toContain(u.prenom);
}

async function logIn(email: string, screenshot?: string) {
  await page.goto(`${sys.url}/login`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  if (screenshot) await shot(screenshot);
  await page.click('main button:has-text("Se connecter")');
  await page.waitForURL(/\/services$/);
}

async function logOut() {
  await page.click('button:has-text("Se déconnecter")');
  await page.waitForURL(`${sys.url}/`);
}

/** Submits the Vente form; resolves with the status of the POST's response. */
async function sell(titre: string, prix: string, categorie: 'livre' | 'dvd' | 'autre', description = ''): Promise<number> {
  await page.fill('#titre', titre);
  await page.selectOption('#categorie', categorie);
  await page.selectOption('#etat', 'bon');
  await page.fill('#prix', prix);
  await page.fill('#description', description);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/services/vente') && r.request().method() === 'POST'),
    page.click('button:has-text("Mettre en vente")'),
  ]);
  await page.waitForLoadState();
  return resp.status();
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sys = await startWholeSystem();
  // The admin is created the way the seed creates it (the Register RPC never grants a role).
  const prisma = createPrismaClient(sys.databaseUrl);
  try {
    await new Accounts(prisma, testLogger()).register({ ...ADMIN, password: PASSWORD }, { role: Role.ADMIN });
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

test('sign up, sell, buy, exhaust the quota, read the statistics', async () => {
  // Accueil
  await page.goto(`${sys.url}/`);
  expect(await text()).toContain('10 ventes ou achats sur 10 minutes');
  expect(await text('body')).not.toMatch(/appels?\b/);
  await shot('accueil');

  // Alice signs up (logged in directly), logs out and in again, sells three items.
  await signUp(ALICE, 'inscription');
  await logOut();
  await logIn(ALICE.email, 'login');
  expect(await text('#quota')).toBe('Il vous reste 10 actions sur 10.');
  expect(await sell('Le Petit Prince', '8,50', 'livre', 'Édition Folio, très bon état')).toBe(303);
  expect(await text()).toContain('Votre article « Le Petit Prince » est en vente pour 8,50');
  expect(await sell('Amélie (DVD)', '5', 'dvd', 'Version collector')).toBe(303);
  expect(await sell('Lampe de bureau LED', '12.90', 'autre')).toBe(303);
  expect(await text('#quota')).toMatch(/^Il vous reste 7 actions sur 10 ; la prochaine redevient disponible à \d{1,2} h \d{2}\.$/);
  expect(await text('#mes-titre + .table-scroll')).toContain('Le Petit Prince');
  await logOut();

  // Bruno signs up and, logged in directly, buys the book.
  await signUp(BRUNO);
  const book = page.locator('li.listing', { hasText: 'Le Petit Prince' });
  expect(await book.innerText()).toContain('vendu par Alice V.');
  const [bought] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/services/achat') && r.request().method() === 'POST'),
    book.locator('button:has-text("Acheter")').click(),
  ]);
  expect(bought.status()).toBe(303);
  await page.waitForLoadState();
  expect(await text()).toContain('Vous avez acheté « Le Petit Prince » pour 8,50');
  expect(await page.locator('li.listing', { hasText: 'Le Petit Prince' }).count()).toBe(0);
  expect(await text('#quota')).toMatch(/^Il vous reste 9 actions sur 10/);
  await shot('services');
  await page.setViewportSize(PHONE);
  await shot('services-telephone');
  await page.setViewportSize(LAPTOP);

  // Bruno uses the 9 calls left, then the 11th call gets the French 429 page with its wait.
  for (let i = 1; i <= 9; i++) expect(await sell(`Polycopié de maths n° ${i}`, '2', 'livre')).toBe(303);
  expect(await text('#quota')).toMatch(/^Il ne vous reste aucune action sur 10 ; la prochaine redevient disponible à \d{1,2} h \d{2}\.$/);
  expect(await text('#vente-titre + .quota-empty-notice')).toMatch(
    /^Vous avez utilisé vos 10 actions : ce formulaire pourra être envoyé à partir de \d{1,2} h \d{2}\.$/,
  );
  expect(await sell('Un de trop', '1', 'autre', 'Gardé tel quel')).toBe(429);
  // The refusal: what happened, when to come back (once, as a clock time), no status code, and
  // the sale form as Bruno filled it in.
  const tooMany = await text();
  expect(tooMany).not.toContain('429');
  expect(tooMany).toContain("Plus d'action disponible pour le moment");
  expect(tooMany).toContain('Vous avez utilisé vos 10 actions (ventes et achats) autorisées sur 10 min');
  expect(tooMany.match(/\d{1,2} h \d{2}/g)).toHaveLength(1);
  expect(await text('#erreurs')).toMatch(/Vous pourrez réessayer à partir de \d{1,2} h \d{2}\.$/);
  expect(await page.inputValue('#titre')).toBe('Un de trop');
  expect(await page.inputValue('#prix')).toBe('1');
  expect(await page.inputValue('#categorie')).toBe('autre');
  expect(await page.inputValue('#description')).toBe('Gardé tel quel');
  await shot('429');
  await page.setViewportSize(PHONE);
  await shot('429-telephone');
  await page.setViewportSize(LAPTOP);
  await page.goto(`${sys.url}/services`);
  await logOut();

  // The admin reads the statistics, with names.
  await logIn(ADMIN.email);
  await page.click('nav >> text=Statistiques');
  await page.waitForURL(/\/statistiques$/);
  expect(await text('#derniers-connectes')).toMatch(/^Aude Admin .* Bruno Acheteur .* Alice Vendeuse /);
  // Alice: her sign-up's login and one more; Bruno: his sign-up's; Aude: one.
  expect(await text('#top-connexions')).toMatch(/^Alice Vendeuse 2 connexions /);
  expect(await text('#service-plus-utilise')).toBe('Vente — 12 actions');
  expect(await text('#total-ventes')).toBe('12');
  expect(await text('#total-achats')).toBe('1');
  expect(await text('#total-connexions')).toBe('4');
  expect(await text('#moins-utilisateurs')).toMatch(/^Aude Admin 0 action .*Alice Vendeuse 3 actions .*Bruno Acheteur 10 actions/);
  expect(await text('#refus-utilisateurs')).toBe('Bruno Acheteur 1 refus');
  expect(await page.locator('.chart svg rect.bar-vente').count()).toBeGreaterThan(0);
  await shot('statistiques');
  await page.setViewportSize(PHONE);
  await shot('statistiques-telephone');
  await page.goto(`${sys.url}/`);
  await shot('accueil-telephone');
  await logOut();
  await page.goto(`${sys.url}/login`);
  await shot('login-telephone');
  await page.setViewportSize(LAPTOP);
});

test('a student is refused the statistics page with a French 403 page', async () => {
  await logIn(ALICE.email);
  const resp = await page.goto(`${sys.url}/statistiques`);
  expect(resp?.status()).toBe(403);
  expect(await text()).toContain("Cette page est réservée à l'équipe EtuServices.");
  await logOut();
});
