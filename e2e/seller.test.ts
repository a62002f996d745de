// The seller changes and withdraws a listing in Chromium (playwright-core, /usr/bin/chromium),
// every part its own process, no script on the pages (plain forms with the CSRF token): a student
// sells an item with a photo, finds it in « Mes articles » (its thumbnail, « Modifier »), changes
// its price and description (an unreadable price is refused beside the field first), sees the new
// price on the item page, then withdraws it after the confirmation step: the listing is gone and
// its photo files are deleted. Each page at 1280 and 390 px (no sideways scrolling on the phone);
// screenshots in e2e/artifacts/ (git-ignored): vendeur-*.png and vendeur-*-telephone.png.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { logInWithForm, shotsAtBothWidths, visibleText } from './chromium';
import { usePhotoSite } from './photo-site';
import type { RunningSystem } from './system';

jest.setTimeout(180_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;
let page: Page;
let photosDir: string;

const text = (selector?: string): Promise<string> => visibleText(page, selector);
const shots = (name: string) => shotsAtBothWidths(page, ARTIFACTS, `vendeur-${name}`);

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));
usePhotoSite('etu-e2e-seller-', [{ firstName: 'Noé', lastName: 'Vendeur', email: 'noe@etu.example', password: PASSWORD }], (site) => {
  ({ sys, page, photosDir } = site);
});

test('a student changes the price and description of a listing, then withdraws it; its photo files go', async () => {
  await logInWithForm(page, sys.url, 'noe@etu.example', PASSWORD);

  // A sale with one photo.
  const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#2f6f9f' } })
    .png()
    .toBuffer();
  await page.fill('#titre', 'Dictionnaire Le Robert de poche');
  await page.selectOption('#categorie', 'livre');
  await page.selectOption('#etat', 'bon');
  await page.fill('#prix', '12');
  await page.fill('#description', 'Couverture un peu usée.');
  await page.setInputFiles('#photos', [{ name: 'robert.png', mimeType: 'image/png', buffer: png }]);
  await page.click('button:has-text("Mettre en vente")');
  await page.waitForURL(/\/services$/);
  expect(readdirSync(photosDir)).toHaveLength(2);

  // « Mes articles »: the thumbnail (with its text alternative) and the seller's actions.
  const thumb = page.locator('#mes-titre ~ * img.listing-thumb');
  expect(await thumb.getAttribute('alt')).toBe('Photo : Dictionnaire Le Robert de poche');
  expect(await text('.mine-actions')).toContain('Modifier');
  await page.locator('.mine-title').scrollIntoViewIfNeeded();
  await shots('mes-articles');

  await page.click('.mine-actions a:has-text("Modifier")');
  await page.waitForURL(/\/articles\/\d+\/modifier$/);
  const id = /\/articles\/(\d+)\//.exec(page.url())![1]!;
  expect(await page.inputValue('#prix')).toBe('12');
  expect(await page.inputValue('#description')).toBe('Couverture un peu usée.');
  expect(await text()).toContain('Il vous reste 9 actions sur 10 ;');
  await shots('modifier');

  // An unreadable price: said beside the field, what was typed kept, nothing counted. (The field's
  // own pattern would stop the browser first: the test turns it off, as an old browser would.)
  await page.locator('#prix').evaluate((e) => e.removeAttribute('pattern'));
  await page.fill('#prix', 'neuf euros');
  await page.fill('#description', 'Couverture un peu usée, prix baissé.');
  await page.click('button:has-text("Enregistrer les modifications")');
  await page.waitForSelector('#prix-erreur');
  expect(await text('#prix-erreur')).toContain('Indiquez un prix en euros, par exemple 12,50.');
  expect(await page.inputValue('#description')).toBe('Couverture un peu usée, prix baissé.');
  expect(await page.getAttribute('#prix', 'aria-invalid')).toBe('true');
  await shots('modifier-erreur');

  await page.fill('#prix', '9,50');
  await page.click('button:has-text("Enregistrer les modifications")');
  await page.waitForURL(new RegExp(`/articles/${id}$`));
  expect(await text()).toContain('Votre article « Dictionnaire Le Robert de poche » est modifié : il est en vente pour 9,50 €.');
  expect(await text('.item-price')).toBe('9,50 €');
  expect(await text('.item-desc')).toBe('Couverture un peu usée, prix baissé.');
  await shots('article-modifie');

  // Withdraw: a confirmation step, then the listing is gone with its photo files.
  await page.click('a:has-text("Retirer de la vente")');
  await page.waitForURL(new RegExp(`/articles/${id}/retirer$`));
  expect(await text()).toContain('on ne peut pas revenir en arrière');
  expect(await text()).toContain('Il vous reste 8 actions sur 10 ;');
  await shots('retirer');
  await page.click('button:has-text("Retirer définitivement")');
  await page.waitForURL(/\/services$/);
  expect(await text()).toContain('Votre article est retiré de la vente');
  expect(await text('#mes-titre ~ *')).toContain("Vous n'avez encore rien mis en vente.");
  expect(await text()).toContain('Il vous reste 7 actions sur 10');
  expect(readdirSync(photosDir)).toEqual([]);
  await shots('retire');
  const gone = await page.goto(`${sys.url}/articles/${id}`);
  expect(gone?.status()).toBe(404);
});
