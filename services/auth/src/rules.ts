// Input rules of the auth service. Each failure is an InvalidArgument naming the proto field,
// with a reason in French (the gateway may show it to the user). Lengths are counted in Unicode
// code points after NFC normalisation, as MySQL counts characters in a utf8mb4 VARCHAR.
import {
  codePoints,
  invisibleCharacter,
  invisibleReason,
  InvalidArgument,
  passwordResemblesIdentity,
  type PasswordIdentity,
  unreadableNameReason,
} from '@etu/common';
import { normalizePassword, PASSWORD_MAX, PASSWORD_MIN } from './passwords';
import { weakPasswordReason } from './strength';

export const NAME_MAX = 100;
export const EMAIL_MAX = 254;
const LOCAL_PART_MAX = 64;

// C0/C1 controls and DEL (\p{Cc}), line and paragraph separators. Bidirectional controls and
// invisible characters, which can make a name display as something else, are refused by
// invisibleCharacter (@etu/common), shared with the listings and the gateway's forms.
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029]/u;

/**
 * A name (nom or prénom): NFC, trimmed, 1-100 characters, no control or invisible characters,
 * at least one letter and no leading combining mark (unreadableNameReason, @etu/common).
 */
export function checkName(field: 'last_name' | 'first_name', raw: string): string {
  const value = raw.normalize('NFC').trim();
  if (value.length === 0) throw new InvalidArgument(field, 'ce champ est obligatoire.');
  if (codePoints(value) > NAME_MAX) throw new InvalidArgument(field, `${NAME_MAX} caractères au maximum.`);
  if (FORBIDDEN_IN_NAME.test(value)) throw new InvalidArgument(field, 'caractères de contrôle interdits.');
  const what = field === 'last_name' ? 'le nom' : 'le prénom';
  const invisible = invisibleCharacter(value);
  if (invisible !== undefined) throw new InvalidArgument(field, invisibleReason(what, invisible));
  const unreadable = unreadableNameReason(value, what);
  if (unreadable) throw new InvalidArgument(field, unreadable);
  return value;
}

// Dot-atom local part (RFC 5322, ASCII) and a domain of LDH labels with at least one dot.
const LOCAL_PART = /^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*$/;
const LABEL = /^[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?$/i;

/** The form an email is stored and looked up in: trimmed and lower-cased. */
export function normalizeEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

/** True when a normalised email is a plausible address we accept for an account. */
export function isValidEmail(email: string): boolean {
  if (email.length > EMAIL_MAX) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > LOCAL_PART_MAX || !LOCAL_PART.test(local)) return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

/** An email for a new account: trimmed, lower-cased, valid, at most 254 characters. */
export function checkEmail(raw: string): string {
  const email = normalizeEmail(raw);
  if (email.length === 0) throw new InvalidArgument('email', 'ce champ est obligatoire.');
  if (email.length > EMAIL_MAX) throw new InvalidArgument('email', `${EMAIL_MAX} caractères au maximum.`);
  if (!isValidEmail(email)) throw new InvalidArgument('email', 'adresse e-mail invalide.');
  return email;
}

/**
 * A new password: NFC, 8-128 code points, any Unicode; not among the guessable ones (zxcvbn
 * score ≥ 2, ASVS 5 §6.2.4) and, when the account is known, not resembling its email or names
 * (ASVS 5 §6.2.11). Returns the normalised form.
 */
export function checkNewPassword(raw: string, identity?: PasswordIdentity): string {
  const password = normalizePassword(raw);
  const n = codePoints(password);
  if (n < PASSWORD_MIN) throw new InvalidArgument('password', `${PASSWORD_MIN} caractères au minimum.`);
  if (n > PASSWORD_MAX) throw new InvalidArgument('password', `${PASSWORD_MAX} caractères au maximum.`);
  const resembles = identity && passwordResemblesIdentity(password, identity);
  if (resembles) throw new InvalidArgument('password', resembles);
  const weak = weakPasswordReason(password, identity ? [identity.email, identity.firstName, identity.lastName] : []);
  if (weak) throw new InvalidArgument('password', weak);
  return password;
}
