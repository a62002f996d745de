// Serves the listings' photos from PHOTOS_DIR: GET /photos/<name>-l.webp (large) and -t.webp
// (thumbnail). A name is the content's address, so a file never changes: cached for a year,
// `immutable`. Only names of the exact form are looked up (no path ever reaches the disk).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Middleware } from 'koa';
import { PHOTO_FILE, type PhotoStore } from '@etu/common/photos';

const PREFIX = '/photos/';

/** The size of the photo file this request names, or undefined (not a photo request, or no such file). */
async function photoSize(store: PhotoStore, method: string, path: string): Promise<number | undefined> {
  if ((method !== 'GET' && method !== 'HEAD') || !path.startsWith(PREFIX) || !PHOTO_FILE.test(path.slice(PREFIX.length))) return undefined;
  try {
    const st = await stat(store.path(path.slice(PREFIX.length)));
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

export function photosMiddleware(store: PhotoStore): Middleware {
  return async (ctx, next) => {
    const size = await photoSize(store, ctx.method, ctx.path);
    if (size === undefined) {
      await next();
      return;
    }
    const file = ctx.path.slice(PREFIX.length);
    const path = store.path(file);
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('ETag', `"${file.slice(0, 34)}"`);
    ctx.type = 'image/webp';
    if (ctx.get('If-None-Match') === ctx.response.get('ETag')) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    if (ctx.method === 'GET') ctx.body = createReadStream(path);
    ctx.length = size;
  };
}
