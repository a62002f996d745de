// Deleting the files of photos the market says no listing uses any more (a withdrawn listing, an
// erased account's listings). Best effort: a file that cannot be removed is logged and left (it
// is only served to whoever knows its name), never a failure of the withdrawal already done.
import { PHOTO_FILE } from '@etu/common/photos';
import type { Ctx } from '../context';
import type { Wiring } from '../deps';

export async function removePhotoFiles(w: Pick<Wiring, 'photos'>, ctx: Ctx, names: readonly string[]): Promise<void> {
  // Only files of the exact form: no name from elsewhere ever becomes a path.
  const files = names.flatMap((n) => [`${n}-l.webp`, `${n}-t.webp`]).filter((f) => PHOTO_FILE.test(f));
  if (files.length === 0) return;
  try {
    await w.photos.remove(files);
  } catch (err) {
    ctx.state.log.warn({ err: err instanceof Error ? err.message : String(err), photos: names.length }, 'photo files not removed');
  }
}
