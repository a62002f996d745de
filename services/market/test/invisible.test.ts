// Issue 15 item 6: text-direction overrides and invisible characters in listings, which every
// student sees, are refused with a French reason naming the character; nothing is stored.
import * as grpc from '@grpc/grpc-js';
import { grpcError, listing, startHarness, type Harness } from './helpers';

let h: Harness;
let seller: string;

beforeAll(async () => {
  h = await startHarness();
  [seller] = (await h.users(1)) as [string];
});

afterAll(async () => {
  await h?.close();
});

const BIDI = ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C'];
const INVISIBLE = ['\u200B', '\u200C', '\u2060', '\uFEFF', '\u00AD', '\u3164'];

test.each([
  ['title', 'le titre'],
  ['description', 'la description'],
] as const)('%s: every bidi control and invisible character is refused, naming it; nothing is stored', async (field, what) => {
  const before = await h.db.listing.count();
  for (const c of [...BIDI, ...INVISIBLE]) {
    const err = await grpcError(h.client.call.createListing(listing(seller, { [field]: `Cours de maths ${c}2026` })));
    const label = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    expect({ code: err.code, details: err.details }).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(
        new RegExp(
          `^${field}: ${what} contient un caractère (de contrôle de direction du texte|invisible) \\(${label.replace('+', '\\+')}\\)`,
        ),
      ),
    });
  }
  expect(await h.db.listing.count()).toBe(before);
});

test('right-to-left text and emoji sequences stay accepted', async () => {
  for (const title of ['Dictionnaire عربي – français', 'Affiche 👩‍🎓 ❤️']) {
    const { listing: l } = await h.client.call.createListing(listing(seller, { title, description: `Très bon état ${title}` }));
    expect(l!.title).toBe(title);
  }
});
