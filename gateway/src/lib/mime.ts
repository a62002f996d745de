// The gateway's mails as RFC 5322 / MIME text (issue 16): one text/plain part in UTF-8,
// quoted-printable, the subject and a non-ASCII sender name as RFC 2047 encoded words. What the
// outbox writes as .eml and what SMTP sends as it is (lib/mailer.ts).
//
// Why not nodemailer's composer: it builds a MIME tree, address parser and stream pipeline for
// every message, 340–1,100 µs of CPU for a 1 KB text mail here (bench/README.md, the third
// session's "Sale mails"), where this takes about 15 µs. These mails are always one text part, so that is all this writes.
//
// Header values never carry a line break or a control character from the data (an article's
// title is in the subject): they are replaced by spaces before encoding, so no header can be
// added through them.
import { randomUUID } from 'node:crypto';

export interface MailMessage {
  /** `addr@host` or `Name <addr@host>` (MAIL_FROM). */
  from: string;
  /** One address. */
  to: string;
  subject: string;
  /** Lines separated by `\n`. */
  text: string;
}

/** An address header's value split into its display name (may be empty) and address. */
export function parseMailbox(value: string): { name: string; address: string } {
  const v = value.trim();
  const lt = v.lastIndexOf('<');
  if (lt < 0 || !v.endsWith('>')) return { name: '', address: v };
  return {
    name: v
      .slice(0, lt)
      .trim()
      .replace(/^"(.*)"$/, '$1'),
    address: v.slice(lt + 1, -1).trim(),
  };
}

/** The message, lines ending with `\n` (as the outbox always wrote them; SMTP turns them into CRLF). */
export function composeMail(mail: MailMessage, now = new Date()): Buffer {
  const from = parseMailbox(oneLine(mail.from));
  const domain = from.address.split('@')[1] || 'localhost';
  const headers = [
    `From: ${mailbox(from)}`,
    `To: ${mailbox(parseMailbox(oneLine(mail.to)))}`,
    `Subject: ${headerText('Subject: '.length, oneLine(mail.subject))}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    `Date: ${rfc5322Date(now)}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
  ];
  return Buffer.from(`${headers.join('\n')}\n\n${quotedPrintable(mail.text)}\n`, 'utf8');
}

/** Control characters (line breaks included) as spaces: a header value stays one header. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

function mailbox({ name, address }: { name: string; address: string }): string {
  if (!name) return address;
  const display = /^[\w !#$%&'*+\-/=?^`{|}~]*$/.test(name) ? name : encodedWords(name, 'From: '.length);
  return `${display} <${address}>`;
}

/** A header's text: as it is when printable ASCII and short, else encoded words folded on lines of ≤ 76. */
function headerText(prefix: number, s: string): string {
  return /^[\x20-\x7e]*$/.test(s) && prefix + s.length <= 76 ? s : encodedWords(s, prefix);
}

/** `=XX` of every byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`);
/** What a byte becomes in an encoded word (RFC 2047 §5 (3): only these stand for themselves; `_` is a space). */
const Q_WORD = HEX.map((hex, b) => (/[a-z0-9!*+\-/]/i.test(String.fromCharCode(b)) ? String.fromCharCode(b) : b === 32 ? '_' : hex));
/** What a byte becomes in a quoted-printable line, but for a space or tab ending the line (=20, =09). */
const QP = HEX.map((hex, b) => ((b >= 33 && b <= 126 && b !== 61) || b === 32 || b === 9 ? String.fromCharCode(b) : hex));

/** RFC 2047 Q-encoded words of at most 75 characters, one per line, never splitting a character. */
function encodedWords(s: string, prefix: number): string {
  const open = '=?UTF-8?Q?';
  const close = '?=';
  const words: string[] = [];
  let word = '';
  // the first line also holds the header's name
  let room = 75 - open.length - close.length - Math.max(0, prefix - 1);
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    const enc = code < 128 ? Q_WORD[code]! : Array.from(Buffer.from(ch, 'utf8'), (b) => HEX[b]).join('');
    if (word.length + enc.length > room && word) {
      words.push(word);
      word = '';
      room = 75 - open.length - close.length;
    }
    word += enc;
  }
  words.push(word);
  return words.map((w) => `${open}${w}${close}`).join('\n ');
}

/**
 * RFC 2045 quoted-printable of UTF-8 text with `\n` line breaks kept: `=` and bytes outside
 * printable ASCII as =XX, a space or tab ending a line too, encoded lines of at most 76
 * characters (soft breaks `=`), never splitting an =XX.
 */
export function quotedPrintable(text: string): string {
  return text.split('\n').map(qpLine).join('\n');
}

function qpLine(line: string): string {
  // most lines need nothing: short, printable ASCII without '=', not ending in a space or tab
  if (line.length <= 76 && /^[\x21-\x3c\x3e-\x7e]?(?:[\x20-\x3c\x3e-\x7e]*[\x21-\x3c\x3e-\x7e])?$/.test(line)) return line;
  const bytes = Buffer.from(line, 'utf8');
  const last = bytes.length - 1;
  let out = '';
  let cur = '';
  for (let i = 0; i <= last; i++) {
    const b = bytes[i]!;
    const enc = i === last && (b === 32 || b === 9) ? HEX[b]! : QP[b]!;
    // room for the soft break's '=' unless this is the line's last piece
    if (cur.length + enc.length > (i === last ? 76 : 75)) {
      out += `${cur}=\n`;
      cur = '';
    }
    cur += enc;
  }
  return out + cur;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sat, 28 Nov 2026 07:38:16 +0000` (RFC 5322 §3.3, in UTC). */
export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
