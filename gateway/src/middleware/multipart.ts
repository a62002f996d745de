// multipart/form-data bodies (the sale form with its photos), read with busboy under fixed bounds
// so that no client can fill memory or disk (issue 21's guarantees hold):
// - only on the paths that take files, and only for a logged-in session: a visitor's multipart
//   body is never read (the CSRF check then refuses it, as any visitor's post without a token);
// - at most UPLOADS_IN_FLIGHT bodies are read at once in this process (503 with Retry-After
//   beyond): with the per-body bounds below, at most ~4 × 15 MB of uploads are held in memory;
// - per body: 3 files of 5 MB (a 4th file or a longer one is noted, its bytes dropped), 20 fields
//   of BODY_LIMIT_BYTES, 30 parts; a declared Content-Length above the whole bound → 413 unread.
// Nothing is written to disk here: the files stay in memory until the route has checked the whole
// form and the quota (routes/services.ts), so a refused form leaves nothing behind.
// The fields become ctx.request.body, so the CSRF check reads `_csrf` as for any form.
import busboy from 'busboy';
import type { Middleware } from 'koa';
import type { GatewayState, Uploads } from '../context';
import { PHOTO_BYTES_MAX, PHOTOS_MAX } from '@etu/common/photos';
import { HttpProblem } from '../lib/problem';

export const UPLOADS_IN_FLIGHT = 4;
const FIELDS_MAX = 20;
const PARTS_MAX = 30;

export function multipartMiddleware(opts: { paths: readonly string[]; fieldBytes: number }): Middleware<GatewayState> {
  let inFlight = 0;
  const bodyMax = PHOTOS_MAX * PHOTO_BYTES_MAX + FIELDS_MAX * opts.fieldBytes + 64 * 1024;
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !ctx.is('multipart/form-data')) {
      await next();
      return;
    }
    if (!opts.paths.includes(ctx.path)) {
      throw new HttpProblem(415, 'type_non_accepte', 'Ce formulaire ne peut pas contenir de fichiers.', { title: 'Requête invalide' });
    }
    // A visitor (no session): nothing is read; the CSRF check refuses the post.
    if (!ctx.state.session.exists) {
      (ctx.request as unknown as { body: unknown }).body = {};
      await next();
      return;
    }
    if (Number(ctx.get('content-length') || 0) > bodyMax) {
      throw new HttpProblem(413, 'trop_volumineux', 'Envoi trop volumineux : au plus 3 photos de 5 Mo chacune.', { title: 'Envoi refusé' });
    }
    if (inFlight >= UPLOADS_IN_FLIGHT) {
      ctx.set('Retry-After', '30');
      throw new HttpProblem(503, 'envois_occupes', 'Beaucoup de photos sont envoyées en ce moment : réessayez dans une minute.', {
        title: 'Service momentanément indisponible',
      });
    }
    inFlight++;
    try {
      const { fields, uploads } = await readMultipart(ctx.req, ctx.get('content-type'), opts.fieldBytes);
      (ctx.request as unknown as { body: unknown }).body = fields;
      ctx.state.uploads = uploads;
      await next();
    } finally {
      inFlight--;
    }
  };
}

function readMultipart(
  req: NodeJS.ReadableStream & { headers: Record<string, string | string[] | undefined>; unpipe?: unknown },
  contentType: string,
  fieldBytes: number,
): Promise<{ fields: Record<string, string>; uploads: Uploads }> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { ...req.headers, 'content-type': contentType },
        limits: {
          files: PHOTOS_MAX,
          fileSize: PHOTO_BYTES_MAX,
          fields: FIELDS_MAX,
          fieldSize: fieldBytes,
          parts: PARTS_MAX,
          fieldNameSize: 100,
        },
      });
    } catch {
      reject(
        new HttpProblem(400, 'formulaire_invalide', 'Formulaire illisible : rechargez la page et réessayez.', {
          title: 'Requête invalide',
        }),
      );
      return;
    }
    const fields: Record<string, string> = {};
    const uploads: Uploads = { files: [], tooMany: false };
    let tooBig = false;
    const pending: Promise<void>[] = [];
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) tooBig = true;
      // One value per name (as the form parser keeps); '__proto__' and the like are plain keys here.
      if (!Object.hasOwn(fields, name)) Object.defineProperty(fields, name, { value, enumerable: true, writable: true });
    });
    bb.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      let size = 0;
      pending.push(
        new Promise<void>((done) => {
          stream.on('data', (c: Buffer) => {
            chunks.push(c);
            size += c.length;
          });
          stream.on('end', () => {
            // A file input left empty sends a part with no name and no bytes: not a file.
            if (size > 0 || info.filename)
              uploads.files.push({ field, bytes: Buffer.concat(chunks, size), truncated: stream.truncated === true });
            done();
          });
        }),
      );
    });
    bb.on('filesLimit', () => {
      uploads.tooMany = true;
    });
    bb.on('partsLimit', () => {
      tooBig = true;
    });
    bb.on('fieldsLimit', () => {
      tooBig = true;
    });
    bb.on('error', () => {
      reject(
        new HttpProblem(400, 'formulaire_invalide', 'Formulaire illisible : rechargez la page et réessayez.', {
          title: 'Requête invalide',
        }),
      );
    });
    bb.on('close', () => {
      void Promise.all(pending).then(() => {
        if (tooBig) {
          reject(
            new HttpProblem(413, 'trop_volumineux', 'Formulaire trop long : raccourcissez le texte saisi.', { title: 'Envoi refusé' }),
          );
        } else {
          // A browser sends one empty part per empty file input: drop those before counting.
          uploads.files = uploads.files.filter((f) => f.bytes.length > 0 || f.truncated);
          resolve({ fields, uploads });
        }
      });
    });
    req.pipe(bb);
  });
}
