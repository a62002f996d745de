// Reading form and JSON bodies: every field is a string or nothing (arrays and nested objects,
// which the form parser can produce, are refused as absent).
import { descriptionMistake, invisibleCharacter, invisibleReason, priceMistake, titleMistake } from '@etu/common';
import type { Ctx } from '../context';

export function field(ctx: Ctx, name: string): string {
  const body = (ctx.request as unknown as { body?: unknown }).body;
  if (!body || typeof body !== 'object') return '';
  const v = (body as Record<string, unknown>)[name];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return '';
}

export function queryParam(ctx: Ctx, name: string): string {
  const v = ctx.query[name];
  return typeof v === 'string' ? v : '';
}

/** The client's address: the socket's, or X-Forwarded-For's when TRUST_PROXY says so (ctx.ip). */
export function clientIp(ctx: Ctx): string {
  const ip = ctx.ip || ctx.socket.remoteAddress || 'unknown';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * The idempotency key of a POST: the standard `Idempotency-Key` header (a structured-field
 * string, quoted or not) for programs, else the form's hidden `field`. Empty: none. Its rules
 * are the market's (checked there, before any quota call).
 */
export function idempotencyKey(ctx: Ctx, name: string): string {
  const header = ctx.headers['idempotency-key'];
  if (header === undefined) return field(ctx, name).trim();
  const raw = (Array.isArray(header) ? header.join(',') : header).trim();
  const unquoted = /^"(.*)"$/s.exec(raw);
  // An empty header is a key that breaks the rules, not "no key": the market says why.
  return unquoted ? unquoted[1]! : raw || '""';
}

/**
 * The first field holding a bidi control or an invisible character, as the services word it
 * ("Titre : le titre contient … (U+202E) …"); each field is [value, label, "le titre"].
 */
export function hiddenCharacterMistake(fields: readonly (readonly [string, string, string])[]): string | undefined {
  for (const [value, label, what] of fields) {
    const cp = invisibleCharacter(value);
    if (cp !== undefined) return `${label} : ${invisibleReason(what, cp)}`;
  }
  return undefined;
}

/**
 * The first rule market would break on a listing's fields (those given), in proto field order, as
 * « Titre : … » (the form's label, then market's own words), or undefined. Checked before a
 * Vente or a change is counted: a mistake in the form costs the user none of their actions.
 */
export function listingMistake(f: { title?: string; priceCents?: number; description?: string }): string | undefined {
  const checks: [string, string | undefined][] = [
    ['Titre', f.title === undefined ? undefined : titleMistake(f.title)],
    ['Prix', f.priceCents === undefined ? undefined : priceMistake(f.priceCents)],
    ['Description', f.description === undefined ? undefined : descriptionMistake(f.description)],
  ];
  const found = checks.find(([, m]) => m !== undefined);
  return found && `${found[0]} : ${found[1]}`;
}

/**
 * The form field a service's message is about: its messages start with the field's label
 * ("Titre : le titre ne doit pas dépasser…"); `labels` maps labels to field names. The message,
 * as `{ field: message }`, or `{}` when it names no field of the form.
 */
export function fieldOfMessage(message: string, labels: Readonly<Record<string, string>>): Record<string, string> {
  const colon = message.indexOf(' : ');
  const name = colon > 0 ? labels[message.slice(0, colon)] : undefined;
  return name ? { [name]: message } : {};
}
