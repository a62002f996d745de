// The gateway serves its own stylesheet and icons from public/ (no CDN). Files are read once at
// start; each answer has an ETag and a day of caching.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Middleware } from 'koa';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export function staticMiddleware(dir: string, prefix = '/static/'): Middleware {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(file);
    assets.set(prefix + name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return async (ctx, next) => {
    const asset = (ctx.method === 'GET' || ctx.method === 'HEAD') && assets.get(ctx.path);
    if (!asset) {
      await next();
      return;
    }
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.set('ETag', asset.etag);
    ctx.type = asset.type;
    if (ctx.get('If-None-Match') === asset.etag) {
      ctx.status = 304;
      return;
    }
    ctx.body = asset.body;
  };
}
