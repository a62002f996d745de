// Selling with photos in Chromium (playwright-core, /usr/bin/chromium), every part its own
// process: a student fills the sale form (condition, two photos chosen in the file input — a
// plain multipart form post, no script), sees the listing with its thumbnail in the search and
// its photos on the item page; a file that is no image is refused beside the field with the rest
// of the form kept. Each page at 1280 and 390 px (no sideways scrolling on the phone);
// screenshots in e2e/artifacts/ (git-ignored): vente-photos-*.png and vente-photos-*-telephone.png.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { LAPTOP, logInWithForm, PHONE, visibleText } from './chromium';
import { usePhotoSite } from './photo-site';
import type { RunningSystem } from './system';

jest.setTimeout(180_000);

const ARTIFACTS = join(__dirname, 'artifacts');
const PASSWORD = 'une phrase de passe solide';

let sys: RunningSystem;
let page: Page;
let photosDir: string;

const text = (selector?: string): Promise<string> => visibleText(page, selector);

async function shots(name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `vente-photos-${name}.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  expect({ page: name, overflow }).toEqual({ page: name, overflow: 0 });
  await page.screenshot({ path: join(ARTIFACTS, `vente-photos-${name}-telephone.png`), fullPage: true });
  await page.setViewportSize(LAPTOP);
}

/** Whether every <img> of the page loaded (a broken photo has no natural width). */
/**
 * Every image of the page displays (decoded, not broken). The photos are `loading="lazy"`: the
 * page's load event does not wait for them, so this waits (10 s at most, a loaded machine).
 */
const expectImagesLoaded = () =>
  page.waitForFunction('[...document.images].every((i) => i.complete && i.naturalWidth > 0) && document.images.length > 0', null, {
    timeout: 10_000,
  });

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));
usePhotoSite('etu-e2e-photos-', [{ firstName: 'Inès', lastName: 'Vendeuse', email: 'ines@etu.example', password: PASSWORD }], (site) => {
  ({ sys, page, photosDir } = site);
});

test('a student sells with two photos and sees them; a file that is no image is refused beside the field', async () => {
  await logInWithForm(page, sys.url, 'ines@etu.example', PASSWORD);

  // First a text file disguised as a photo: refused, the rest of the form kept, nothing stored.
  await page.fill('#titre', 'Lampe de bureau articulée');
  await page.selectOption('#categorie', 'autre');
  await page.selectOption('#etat', 'tres_bon');
  await page.fill('#prix', '12');
  await page.fill('#description', 'Photographiée dans ma chambre.');
  await page.setInputFiles('#photos', [{ name: 'lampe.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('ceci est un texte') }]);
  await page.click('button:has-text("Mettre en vente")');
  await page.waitForSelector('#photos-erreur');
  expect(await text('#photos-erreur')).toContain('La photo n’est pas une image JPEG, PNG ou WebP.');
  expect(await page.inputValue('#titre')).toBe('Lampe de bureau articulée');
  expect(await page.inputValue('#etat')).toBe('tres_bon');
  expect(readdirSync(photosDir)).toEqual([]);
  await shots('erreur');

  // Then two real photos (a JPEG straight from a phone, a PNG).
  const jpeg = await sharp({ create: { width: 2400, height: 1800, channels: 3, background: '#3a7d5c' } })
    .jpeg()
    .withExif({ IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100' } })
    .toBuffer();
  const png = await sharp({ create: { width: 900, height: 900, channels: 3, background: '#d0a030' } })
    .png()
    .toBuffer();
  await page.setInputFiles('#photos', [
    { name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: jpeg },
    { name: 'detail.png', mimeType: 'image/png', buffer: png },
  ]);
  await page.click('button:has-text("Mettre en vente")');
  await page.waitForURL(/\/services$/);
  expect(await text()).toContain('Votre article « Lampe de bureau articulée » est en vente');
  expect(await text()).toContain('Très bon état');
  expect(readdirSync(photosDir)).toHaveLength(4);

  // In the search: the thumbnail; on the item page: both photos and the condition.
  await page.goto(`${sys.url}/articles?q=lampe`);
  expect(await text('#resultats-titre')).toBe('1 article pour cette recherche');
  await expectImagesLoaded();
  await shots('recherche');
  await page.click('text=Lampe de bureau articulée');
  await page.waitForURL(/\/articles\/\d+$/);
  expect(await page.locator('.item-photos img').count()).toBe(2);
  await expectImagesLoaded();
  expect(await text()).toContain('État Très bon état');
  await shots('article');
});
