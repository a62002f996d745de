// Text rules shared by the services, which decide, and the gateway, which mirrors them to show a
// friendlier form. Pure functions over code points: no regular expression here can backtrack.

/** Length in Unicode code points (an emoji outside the BMP counts as 1, not 2), as MariaDB's utf8mb4 VARCHAR counts. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** "U+202E": how a refused character is named in a message. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

// Bidirectional controls (embeddings, overrides, isolates, marks) can make a text display as
// something else ("Trojan Source", CVE-2021-42574); invisible characters make two different
// texts look the same. Neither has a use in a name, a listing title or a description.
const BIDI_CONTROLS = new Set([0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]);
const INVISIBLE_LETTERS = new Set([0x034f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180b, 0x180c, 0x180d, 0x180f, 0x2800, 0x3164, 0xffa0]);
const ZWJ = 0x200d;
const FORMAT = /^\p{Cf}$/u;
const PICTOGRAPH = /^[\p{Extended_Pictographic}\p{Emoji_Modifier}]$/u;

const isVariationSelector = (cp: number) => (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef);
const isPictograph = (cp: number | undefined) => cp !== undefined && PICTOGRAPH.test(String.fromCodePoint(cp));

/**
 * The first bidirectional control or invisible character of `text` (its code point), or
 * undefined. Refused: every format character (\p{Cf}: bidi controls, zero-width space and
 * non-joiner, word joiner, BOM, soft hyphen, tags...), the blank letters (Hangul fillers, braille
 * blank, combining grapheme joiner...) and a variation selector that follows nothing visible.
 * Kept, because emoji need them: a zero-width joiner between two pictographs (👩‍🎓) and a
 * variation selector after a visible character (❤️).
 */
export function invisibleCharacter(text: string): number | undefined {
  const cps = Array.from(text, (c) => c.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const prev = cps[i - 1];
    if (cp === ZWJ) {
      // The previous may be a variation selector of a pictograph (❤️‍🔥).
      const before = prev !== undefined && isVariationSelector(prev) ? cps[i - 2] : prev;
      if (isPictograph(before) && isPictograph(cps[i + 1])) continue;
      return cp;
    }
    if (BIDI_CONTROLS.has(cp) || INVISIBLE_LETTERS.has(cp) || FORMAT.test(String.fromCodePoint(cp))) return cp;
    if (
      isVariationSelector(cp) &&
      (prev === undefined || isVariationSelector(prev) || prev === ZWJ || /\s/u.test(String.fromCodePoint(prev)))
    )
      return cp;
  }
  return undefined;
}

/** True for a bidirectional control (the characters that reorder what is displayed). */
export function isBidiControl(cp: number): boolean {
  return BIDI_CONTROLS.has(cp);
}

/** The French reason for refusing `cp` in a field, e.g. "le titre" → "… (U+202E)". */
export function invisibleReason(what: string, cp: number): string {
  const kind = isBidiControl(cp) ? 'un caractère de contrôle de direction du texte' : 'un caractère invisible';
  return `${what} contient ${kind} (${codePointLabel(cp)}), qui n'est pas accepté : retapez le texte sans le copier-coller.`;
}

// A person's name shows in greetings, the statistics and « Prénom N. »: it must read as a name.
const LETTER = /\p{L}/u;
const LEADING_MARK = /^\p{M}/u;

/**
 * Why a person's name would show as nothing readable, or undefined. It must hold a letter
 * (\p{L}, any script: « O'Neil », « Jean-Luc », « Zoë », « 李 » pass; only combining accents,
 * punctuation, symbols, digits or emoji do not), and must not start with a combining mark, which
 * would sit on whatever the page puts before the name (« Bonjour ́Jean »). `what` is « le nom »
 * or « le prénom ». Invisible characters are invisibleCharacter's.
 */
export function unreadableNameReason(name: string, what: string): string | undefined {
  if (!LETTER.test(name)) return `${what} doit contenir au moins une lettre.`;
  if (LEADING_MARK.test(name)) return `${what} ne peut pas commencer par un accent seul.`;
  return undefined;
}

/** A password's length in code points, after NFC (auth's rule; the gateway's form mirrors it). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** What a password must not resemble (ASVS 5 §6.2.11): the account's own identifiers. */
export interface PasswordIdentity {
  email: string;
  firstName: string;
  lastName: string;
}

/** Identifiers shorter than this are only refused as the whole password, not as a part of it. */
export const IDENTITY_PART_MIN = 3;

/** Lower case, accents removed, NFC: "Élodie" and "elodie" compare equal. */
function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().normalize('NFC');
}

/**
 * Why `password` resembles the account's identity, in French, or undefined: it equals the email,
 * contains the email's local part, the first name or the last name (compared without case or
 * accents; parts shorter than 3 characters are refused only when they are the whole password).
 */
export function passwordResemblesIdentity(password: string, who: PasswordIdentity): string | undefined {
  const pw = fold(password);
  const email = fold(who.email.trim());
  if (pw === email) return 'le mot de passe ne doit pas être votre adresse e-mail.';
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : '';
  const parts: [string, string][] = [
    [local, 'le mot de passe ne doit pas contenir votre adresse e-mail (la partie avant « @ »).'],
    [fold(who.firstName.trim()), 'le mot de passe ne doit pas contenir votre prénom.'],
    [fold(who.lastName.trim()), 'le mot de passe ne doit pas contenir votre nom.'],
  ];
  for (const [part, reason] of parts) {
    if (part.length === 0) continue;
    if (pw === part || (codePoints(part) >= IDENTITY_PART_MIN && pw.includes(part))) return reason;
  }
  return undefined;
}

// A listing's text and price (market decides; the gateway's sale and edit forms check the same
// before a call is counted, so a mistake costs none of the user's actions).
export const TITLE_MAX = 120;
export const DESCRIPTION_MAX = 2000;
export const PRICE_MIN_CENTS = 1;
export const PRICE_MAX_CENTS = 1_000_000;
/** C0/C1 control characters and the Unicode line/paragraph separators. */
const TITLE_FORBIDDEN = /[\p{Cc}\u2028\u2029]/u;
/** The same, except tab, line feed and carriage return, which a description may contain. */
const DESCRIPTION_FORBIDDEN = /(?![\t\n\r])[\p{Cc}\u2028\u2029]/u;

/** Why a listing's title (trimmed first) is refused, in French, or undefined. */
export function titleMistake(raw: string): string | undefined {
  const title = raw.trim();
  if (title === '') return 'le titre est obligatoire.';
  if (codePoints(title) > TITLE_MAX) return `le titre ne doit pas dépasser ${TITLE_MAX} caractères.`;
  if (TITLE_FORBIDDEN.test(title)) return 'le titre ne doit pas contenir de caractères de contrôle.';
  const invisible = invisibleCharacter(title);
  return invisible === undefined ? undefined : invisibleReason('le titre', invisible);
}

/** Why a listing's description is refused, in French, or undefined. */
export function descriptionMistake(raw: string): string | undefined {
  if (codePoints(raw) > DESCRIPTION_MAX) return 'la description ne doit pas dépasser 2 000 caractères.';
  if (DESCRIPTION_FORBIDDEN.test(raw)) return 'la description ne doit pas contenir de caractères de contrôle.';
  const invisible = invisibleCharacter(raw);
  return invisible === undefined ? undefined : invisibleReason('la description', invisible);
}

/** Why a listing's price in cents is refused, in French, or undefined. */
export function priceMistake(cents: number): string | undefined {
  return Number.isInteger(cents) && cents >= PRICE_MIN_CENTS && cents <= PRICE_MAX_CENTS
    ? undefined
    : 'le prix doit être compris entre 0,01 € et 10 000 €, en centimes entiers.';
}
