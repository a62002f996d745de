// Photos on the sale form (issue 19, item 3), over HTTP in front of the four real services: a
// multipart/form-data post (as a browser without JavaScript sends it) with up to 3 photos; the
// files re-encoded (bounded sizes, no EXIF: a JPEG carrying a GPS position is built here) and
// served with immutable cache headers; every bad file refused in French beside the field with
// the other inputs kept, nothing stored and no call counted; the CSRF check still applies.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import request from 'supertest';
import sharp from 'sharp';
import { usePhotosGateway, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let dir: string;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const client = () => new WebClient(gw.server, `10.23.0.${++ipSeq}`);

async function loggedIn() {
  const n = ++userSeq;
  const email = `photo${n}@etu.example`;
  const id = await sys.createUser({ firstName: 'Photo', lastName: `Graphe${n}`, email, password: PASSWORD });
  const c = client();
  expect((await c.login(email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { id, c };
}

/** A JPEG as a phone takes it at home: 3000 × 2000, with its GPS position and the owner's name in EXIF. */
async function jpegWithGps(color = '#6a8'): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: color } })
    .jpeg({ quality: 90 })
    .withExif({
      IFD0: { Artist: 'Chez-Camille-Lefevre' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 0/1' },
    })
    .toBuffer();
  // The input really carries them: the GPS IFD pointer (tag 0x8825) and the name.
  const exif = (await sharp(jpeg).metadata()).exif!;
  expect(exif.includes(Buffer.from([0x25, 0x88])) || exif.includes(Buffer.from([0x88, 0x25]))).toBe(true);
  expect(exif.includes('Chez-Camille-Lefevre')).toBe(true);
  return jpeg;
}

/** A PNG whose header claims 20,000 × 20,000 pixels (400 megapixels) in a few bytes: a decompression bomb. */
async function pngBomb(): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  png.writeUInt32BE(20_000, 16);
  png.writeUInt32BE(20_000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

const FIELDS = { titre: 'Lampe de chevet', categorie: 'autre', etat: 'bon', prix: '8', description: 'Photographiée chez moi.' };

/** The sale form as a browser posts it: multipart/form-data, the token first, then the fields and files. */
function sellWith(c: WebClient, files: [Buffer, string, string][], fields: Record<string, string> = FIELDS, csrf = c.token!) {
  let req = c.agent.post('/services/vente').set('X-Forwarded-For', c.ip!).field('_csrf', csrf);
  for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
  for (const [bytes, filename, contentType] of files) req = req.attach('photos', bytes, { filename, contentType });
  return req;
}

const storedFiles = () => readdirSync(dir).sort();

usePhotosGateway('etu-photos-', (s) => {
  ({ sys, gw, dir } = s);
});

test('two photos: re-encoded to bounded WebP without EXIF or GPS, served immutable, shown on the item page and in the search', async () => {
  const s = await loggedIn();
  const png = await sharp({ create: { width: 800, height: 600, channels: 4, background: '#c33' } })
    .png()
    .toBuffer();
  const res = await sellWith(s.c, [
    [await jpegWithGps(), 'IMG_2041.jpg', 'image/jpeg'],
    [png, 'lampe.png', 'image/png'],
  ]);
  expect(res.status).toBe(303);
  const listing = (
    await gw.clients.market.listListings({
      filter: { category: 0, sellerId: s.id, excludeSellerId: '', status: 0 },
      pageSize: 0,
      pageToken: '',
    })
  ).listings[0]!;
  expect(listing.photos).toHaveLength(2);
  expect(storedFiles()).toEqual(listing.photos.flatMap((p) => [`${p}-l.webp`, `${p}-t.webp`]).sort());

  const [first] = listing.photos;
  const large = await request(gw.server)
    .get(`/photos/${first}-l.webp`)
    .buffer(true)
    .parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  expect(large.status).toBe(200);
  expect(large.headers['content-type']).toBe('image/webp');
  expect(large.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(large.headers['x-content-type-options']).toBe('nosniff');
  const body = large.body as Buffer;
  const meta = await sharp(body).metadata();
  expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 1600, height: 1067 });
  // No metadata left: no EXIF block (so no GPS position), no XMP, not even the owner's name.
  expect(meta.exif).toBeUndefined();
  expect(meta.xmp).toBeUndefined();
  expect(body.includes('Exif')).toBe(false);
  expect(body.includes('Chez-Camille')).toBe(false);
  const thumb = await sharp(join(dir, `${first}-t.webp`)).metadata();
  expect(Math.max(thumb.width, thumb.height)).toBeLessThanOrEqual(400);
  // A smaller picture is never enlarged.
  expect((await sharp(join(dir, `${listing.photos[1]}-l.webp`)).metadata()).width).toBe(800);

  const page = await client().get(`/articles/${listing.id}`);
  expect(page.text).toContain(`src="/photos/${first}-l.webp"`);
  expect(page.text).toContain('alt="Photo 1 sur 2 : Lampe de chevet"');
  expect((await client().get('/articles?q=chevet')).text).toContain(`src="/photos/${first}-t.webp"`);
  // Unknown or malformed names: 404, never a path on disk.
  expect((await request(gw.server).get(`/photos/${'0'.repeat(32)}-l.webp`)).status).toBe(404);
  expect((await request(gw.server).get('/photos/..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
});

describe('a bad file: French error beside the field, the other inputs kept, nothing stored, no call counted', () => {
  test.each([
    [
      'a text file named .jpg and declared image/jpeg',
      () => Promise.resolve([[Buffer.from('pas une image du tout'), 'photo.jpg', 'image/jpeg']]),
      'n’est pas une image JPEG, PNG ou WebP',
    ],
    [
      'a GIF',
      () => Promise.resolve([[Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), 'anim.gif', 'image/gif']]),
      'n’est pas une image JPEG, PNG ou WebP',
    ],
    [
      'a JPEG start followed by garbage',
      () => Promise.resolve([[Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 7)]), 'x.jpg', 'image/jpeg']]),
      'est illisible',
    ],
    [
      'more than 5 MB',
      () =>
        Promise.resolve([[Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(5 * 1024 * 1024)]), 'grosse.jpg', 'image/jpeg']]),
      'dépasse 5 Mo',
    ],
    ['a decompression bomb (400 megapixels declared)', async () => [[await pngBomb(), 'bombe.png', 'image/png']], 'est trop grande'],
    [
      'four photos',
      () => Promise.resolve(Array.from({ length: 4 }, (_, i) => [Buffer.from([0xff, 0xd8, 0xff, i]), `p${i}.jpg`, 'image/jpeg'])),
      'Au plus 3 photos par article',
    ],
  ] as [string, () => Promise<[Buffer, string, string][]>, string][])('%s', async (_what, files, message) => {
    const s = await loggedIn();
    const before = storedFiles();
    const res = await sellWith(s.c, await files(), { ...FIELDS, titre: 'Titre gardé' });
    expect(res.status).toBe(400);
    const text = textOf(res.text);
    expect(text).toContain(message);
    expect(res.text).toMatch(/<p class="field-error" id="photos-erreur">[^<]*Choisissez à nouveau vos photos/);
    expect(res.text).toContain('value="Titre gardé"');
    expect(res.text).toContain('Photographiée chez moi.');
    expect(storedFiles()).toEqual(before);
    expect(textOf((await s.c.get('/services')).text)).toContain('Il vous reste 10 actions sur 10.');
    const mine = await gw.clients.market.listListings({
      filter: { category: 0, sellerId: s.id, excludeSellerId: '', status: 0 },
      pageSize: 0,
      pageToken: '',
    });
    expect(mine.listings).toHaveLength(0);
  });
});

test('the CSRF token is checked on multipart posts; a visitor’s multipart post is refused unread', async () => {
  const s = await loggedIn();
  const before = storedFiles();
  const forged = await sellWith(s.c, [[await jpegWithGps(), 'a.jpg', 'image/jpeg']], FIELDS, 'not-the-token');
  expect(forged.status).toBe(403);
  const visitor = await sellWith(client(), [[await jpegWithGps(), 'a.jpg', 'image/jpeg']], FIELDS, 'x');
  expect(visitor.status).toBe(403);
  expect(storedFiles()).toEqual(before);
  // Files on a form that takes none: 415.
  const elsewhere = await s.c.agent
    .post('/services/achat')
    .set('X-Forwarded-For', s.c.ip!)
    .field('_csrf', s.c.token!)
    .attach('f', Buffer.from('x'), 'f.txt');
  expect(elsewhere.status).toBe(415);
});

test('a form without photos still sells as multipart and as a plain form', async () => {
  const s = await loggedIn();
  expect((await sellWith(s.c, [])).status).toBe(303);
  expect((await s.c.post('/services/vente', { ...FIELDS, titre: 'Sans photo' })).status).toBe(303);
});
