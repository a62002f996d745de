// Pictures for the demo listings, drawn at seed time (no binary in the repository): a small SVG
// per listing — a book, a disc or a box in a colour of its own — rasterised by sharp, then
// stored through the same code as an upload (@etu/common/photos: re-encoded, content-addressed),
// so a newcomer's `make run` shows a site with photos.
import { PhotoStore, processPhoto } from '@etu/common/photos';
import { market } from '@etu/proto';
import sharp from 'sharp';

const W = 1200;
const H = 900;

function shape(category: market.Category, hue: number): string {
  const main = `hsl(${hue} 55% 45%)`;
  const light = `hsl(${hue} 60% 85%)`;
  switch (category) {
    case market.Category.CATEGORY_BOOK:
      return `<rect x="380" y="150" width="440" height="600" rx="18" fill="${main}"/>
        <rect x="380" y="150" width="60" height="600" rx="12" fill="hsl(${hue} 50% 32%)"/>
        <rect x="490" y="260" width="270" height="40" rx="8" fill="${light}"/>
        <rect x="490" y="330" width="200" height="24" rx="8" fill="${light}"/>`;
    case market.Category.CATEGORY_DVD:
      return `<rect x="330" y="150" width="540" height="600" rx="24" fill="hsl(${hue} 30% 25%)"/>
        <circle cx="600" cy="450" r="230" fill="${light}"/>
        <circle cx="600" cy="450" r="150" fill="${main}"/>
        <circle cx="600" cy="450" r="40" fill="hsl(${hue} 30% 25%)"/>`;
    default:
      return `<rect x="340" y="260" width="520" height="420" rx="40" fill="${main}"/>
        <circle cx="600" cy="470" r="120" fill="${light}"/>
        <rect x="520" y="200" width="160" height="80" rx="20" fill="hsl(${hue} 50% 32%)"/>`;
  }
}

/** The demo picture of the `index`-th listing, as PNG bytes. */
export async function demoPicture(category: market.Category, index: number): Promise<Buffer> {
  const hue = (index * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
    <rect width="${W}" height="${H}" fill="hsl(${(hue + 180) % 360} 35% 92%)"/>
    <ellipse cx="600" cy="790" rx="330" ry="40" fill="rgba(0,0,0,0.12)"/>
    ${shape(category, hue)}
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Stores the demo picture of the `index`-th listing; its photo name. */
export async function storeDemoPicture(store: PhotoStore, category: market.Category, index: number): Promise<string> {
  const photo = await processPhoto(await demoPicture(category, index), 'La photo de démonstration');
  await store.save([photo]);
  return photo.name;
}
