// Page tokens for ListListings: the position of the last listing of a page, (created_at, id),
// as base64url("<createdAtMs>:<id>"). Opaque to callers; anything that does not decode to
// exactly that shape is refused, so a tampered token cannot become a query.
import { InvalidArgument } from '@etu/common';

export interface Cursor {
  createdAt: Date;
  id: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.createdAt.getTime()}:${c.id}`, 'utf8').toString('base64url');
}

const bad = () => new InvalidArgument('page_token', 'jeton de page invalide ; recommencez depuis la première page.');

export function decodeCursor(token: string): Cursor {
  if (token.length > 64 || !/^[\w-]+$/.test(token)) throw bad();
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const m = /^(0|[1-9]\d{0,15}):([1-9]\d{0,9})$/.exec(text);
  if (!m) throw bad();
  const ms = Number(m[1]);
  const id = Number(m[2]);
  if (id > 2_147_483_647 || !Number.isSafeInteger(ms)) throw bad();
  const cursor = { createdAt: new Date(ms), id };
  // Only the canonical encoding is accepted (no trailing bits, no alternative spellings).
  if (encodeCursor(cursor) !== token) throw bad();
  return cursor;
}
