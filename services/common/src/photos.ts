// Photos of a listing (issue 19, item 3): the type read from the bytes, the re-encoding with
// sharp (bounded sizes, no metadata), and the content-addressed files in PHOTOS_DIR. The gateway
// uses it for uploads, not the market: an upload (up to 3 × 5 MB) does not fit in a gRPC message
// (4 MiB), and the gateway is the part that receives and serves the bytes (docs/architecture.md,
// "Photos"); the market's demo seed uses it to make its pictures. A subpath of its own
// (`@etu/common/photos`), so that only those two load sharp's native library.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { REPO_ROOT } from './secrets';

// No cache of decoded images between requests (memory stays a function of the uploads in flight).
sharp.cache(false);

export const PHOTOS_MAX = 3;
export const PHOTO_BYTES_MAX = 5 * 1024 * 1024;
/** Larger images are refused before decoding (decompression bombs): 40 megapixels. */
export const PHOTO_PIXELS_MAX = 40_000_000;
/** The large version fits in 1600 × 1600, the thumbnail in 400 × 400 (never enlarged). */
export const LARGE_PX = 1600;
export const THUMB_PX = 400;
/** A photo's name: 32 hex digits of SHA-256 of its large version. Files: `<name>-l.webp`, `<name>-t.webp`. */
export const PHOTO_FILE = /^([0-9a-f]{32})-([lt])\.webp$/;

/**
 * PHOTOS_DIR, the folder of the photo files, for the gateway (uploads, serving) and the demo seed:
 * an absolute path; by default data/photos in the repository (a local run). In a container, a
 * volume (deploy/compose.yaml).
 */
export const photosDirVar = () =>
  z
    .string()
    .default(join(REPO_ROOT, 'data', 'photos'))
    .refine((d) => isAbsolute(d), 'expected an absolute path, e.g. /var/lib/etuservices/photos');

export type PhotoType = 'jpeg' | 'png' | 'webp';

/** The image type the bytes say (magic numbers), whatever the file name or the declared type. */
export function sniffImage(b: Buffer): PhotoType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/** A photo refused, with the reason in French (shown beside the field). */
export class PhotoRefused extends Error {
  override name = 'PhotoRefused';
}

export interface ProcessedPhoto {
  name: string;
  large: Buffer;
  thumb: Buffer;
}

/**
 * Checks one uploaded file and re-encodes it: the type from its bytes, at most PHOTO_PIXELS_MAX
 * pixels (sharp's limitInputPixels: refused before the pixels are decoded), turned upright by its
 * EXIF orientation, then written anew as WebP — sharp writes no metadata unless asked, so EXIF
 * (GPS position included), XMP, IPTC and ICC profiles are all left behind.
 */
export async function processPhoto(bytes: Buffer, label: string): Promise<ProcessedPhoto> {
  if (bytes.length > PHOTO_BYTES_MAX) throw new PhotoRefused(`${label} dépasse 5 Mo.`);
  if (!sniffImage(bytes)) throw new PhotoRefused(`${label} n’est pas une image JPEG, PNG ou WebP.`);
  const input = sharp(bytes, { limitInputPixels: PHOTO_PIXELS_MAX, failOn: 'error', sequentialRead: true }).rotate();
  try {
    const meta = await sharp(bytes, { limitInputPixels: PHOTO_PIXELS_MAX }).metadata();
    if (meta.width * meta.height > PHOTO_PIXELS_MAX) throw new PhotoRefused(tooLarge(label));
    const large = await input.resize(LARGE_PX, LARGE_PX, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 82 }).toBuffer();
    // The thumbnail from the large version: the big original is decoded once.
    const thumb = await sharp(large)
      .resize(THUMB_PX, THUMB_PX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toBuffer();
    return { name: createHash('sha256').update(large).digest('hex').slice(0, 32), large, thumb };
  } catch (err) {
    if (err instanceof PhotoRefused) throw err;
    if (err instanceof Error && /pixel limit/i.test(err.message)) throw new PhotoRefused(tooLarge(label));
    throw new PhotoRefused(`${label} est illisible (fichier abîmé ou incomplet).`);
  }
}

const tooLarge = (label: string) => `${label} est trop grande (plus de ${PHOTO_PIXELS_MAX / 1_000_000} millions de pixels).`;

/** The folder of photo files (PHOTOS_DIR). Files are written whole (a temporary name, then a rename). */
export class PhotoStore {
  constructor(readonly dir: string) {}

  path(file: string): string {
    return join(this.dir, file);
  }

  /**
   * Writes the photos' files that are not there yet; returns the files it created, so that a
   * sale that fails after this removes exactly those (another listing may share the others).
   */
  async save(photos: readonly ProcessedPhoto[]): Promise<string[]> {
    // A sale without photos (most of them) touches no file.
    if (photos.length === 0) return [];
    await mkdir(this.dir, { recursive: true });
    const created: string[] = [];
    try {
      for (const p of photos) {
        for (const [file, bytes] of [
          [`${p.name}-l.webp`, p.large],
          [`${p.name}-t.webp`, p.thumb],
        ] as const) {
          if (await exists(this.path(file))) continue;
          const tmp = this.path(`.${file}.${randomBytes(6).toString('hex')}.tmp`);
          await writeFile(tmp, bytes, { mode: 0o644 });
          await rename(tmp, this.path(file));
          created.push(file);
        }
      }
    } catch (err) {
      await this.remove(created);
      throw err;
    }
    return created;
  }

  async remove(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((f) => rm(this.path(f), { force: true })));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
