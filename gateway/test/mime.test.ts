// The mails as a mail client reads them (lib/mime.ts, lib/mailer.ts): composed here, decoded by
// an independent decoder (libmime for the encoded words, libqp for the body, nodemailer's
// authors' libraries), and carried over SMTP to a real socket.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { composeMail, parseMailbox } from '../src/lib/mime';
import { createSender } from '../src/lib/mailer';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- no types are published for it
const libmime = require('libmime') as { decodeWords(s: string): string };
// eslint-disable-next-line @typescript-eslint/no-require-imports -- no types are published for it
const libqp = require('libqp') as { decode(s: string): Buffer };

const FROM = 'EtuServices <ne-pas-repondre@etuservices.example>';

/** Headers (unfolded, by name) and body of a composed message. */
function parse(message: string) {
  const at = message.indexOf('\n\n');
  const head = message.slice(0, at).replace(/\n[ \t]/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\n')) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return { headers, rawHead: message.slice(0, at), rawBody: message.slice(at + 2) };
}

const CASES = [
  {
    subject: 'Votre article « Chimie organique – Clayden » a été acheté',
    text: 'Bonjour Camille,\n\nvotre article (32,00\u202f€) vient d’être acheté.',
  },
  { subject: 'ASCII only', text: 'short' },
  { subject: 'x'.repeat(200), text: 'y'.repeat(300) },
  { subject: '🎉'.repeat(40) + ' é', text: '🎉'.repeat(60) + '\n' + 'é'.repeat(100) },
  { subject: 'a = b ? c _ d', text: 'a=b\n=3D is not decoded twice\nends with a space \nends with a tab\t\n\n\n.dot first\n' },
  { subject: '', text: '' },
  { subject: 'mot de passe', text: `http://127.0.0.1:8080/mot-de-passe/nouveau?jeton=${'Ab_-9'.repeat(20)}&x=1` },
];

describe('composeMail', () => {
  test.each(CASES)('decodes back to the same subject and text, every line within 76 characters (%#)', ({ subject, text }) => {
    const message = composeMail({ from: FROM, to: 'camille@etu.example', subject, text }).toString('utf8');
    const { headers, rawHead, rawBody } = parse(message);
    expect(headers.get('From')).toBe(FROM);
    expect(headers.get('To')).toBe('camille@etu.example');
    expect(libmime.decodeWords(headers.get('Subject')!)).toBe(subject);
    expect(headers.get('Content-Type')).toBe('text/plain; charset=utf-8');
    expect(headers.get('Content-Transfer-Encoding')).toBe('quoted-printable');
    expect(headers.get('MIME-Version')).toBe('1.0');
    expect(headers.get('Message-ID')).toMatch(/^<[0-9a-f-]{36}@etuservices\.example>$/);
    expect(new Date(headers.get('Date')!).getTime()).not.toBeNaN();
    expect(libqp.decode(rawBody).toString('utf8')).toBe(`${text}\n`);
    for (const line of `${rawHead}\n${rawBody}`.split('\n')) {
      expect(line.length).toBeLessThanOrEqual(76);
      // only printable ASCII travels: 7-bit clean, no bare CR
      expect(line).toMatch(/^[\x20-\x7e]*$/);
    }
  });

  test('a line break in the data adds no header', () => {
    const message = composeMail({
      from: FROM,
      to: 'camille@etu.example\r\nBcc: x@evil.example',
      subject: 'Livre\r\nBcc: y@evil.example\n\nfaux corps',
      text: 'corps',
    }).toString('utf8');
    const { headers } = parse(message);
    expect(message).not.toMatch(/^Bcc:/im);
    expect([...headers.keys()]).toEqual([
      'From',
      'To',
      'Subject',
      'Message-ID',
      'Date',
      'MIME-Version',
      'Content-Type',
      'Content-Transfer-Encoding',
    ]);
    expect(libmime.decodeWords(headers.get('Subject')!)).toBe('Livre Bcc: y@evil.example faux corps');
  });

  test('a sender name that is not plain ASCII is encoded', () => {
    const message = composeMail({
      from: 'Équipe EtuServices <ne-pas-repondre@etuservices.example>',
      to: 'a@b.example',
      subject: 's',
      text: 't',
    });
    const from = parse(message.toString('utf8')).headers.get('From')!;
    expect(from).toMatch(/^=\?UTF-8\?Q\?.*\?= <ne-pas-repondre@etuservices\.example>$/);
    expect(libmime.decodeWords(from)).toBe('Équipe EtuServices <ne-pas-repondre@etuservices.example>');
  });

  test('parseMailbox', () => {
    expect(parseMailbox(FROM)).toEqual({ name: 'EtuServices', address: 'ne-pas-repondre@etuservices.example' });
    expect(parseMailbox('"Etu, Services" <a@b.example>')).toEqual({ name: 'Etu, Services', address: 'a@b.example' });
    expect(parseMailbox(' a@b.example ')).toEqual({ name: '', address: 'a@b.example' });
  });
});

/** A minimal SMTP server: accepts one message at a time and keeps the envelope and data. */
async function smtpSink() {
  const got: Array<{ from: string; to: string[]; data: string }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    let inData = false;
    let cur = { from: '', to: [] as string[], data: '' };
    socket.write('220 sink ESMTP\r\n');
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          cur.data = buf.slice(0, end + 2);
          buf = buf.slice(end + 5);
          inData = false;
          got.push(cur);
          cur = { from: '', to: [], data: '' };
          socket.write('250 OK queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        const arg = line.slice(line.indexOf('<') + 1, line.lastIndexOf('>'));
        if (verb === 'MAIL') cur.from = arg;
        if (verb === 'RCPT') cur.to.push(arg);
        if (verb === 'DATA') inData = true;
        if (verb === 'DATA') socket.write('354 go\r\n');
        else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    got,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('createSender over SMTP', () => {
  test('the composed message reaches the server as it is, in CRLF lines, dots kept', async () => {
    const sink = await smtpSink();
    try {
      const send = createSender({
        SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        MAIL_FROM: FROM,
        MAIL_OUTBOX_DIR: '/nonexistent',
        MAIL_QUEUE_SIZE: 10,
        MAIL_TIMEOUT_MS: 2000,
      });
      const text = 'Bonjour Léa,\n.une ligne qui commence par un point\n..et deux\nfin';
      await send({ to: 'lea@etu.example', subject: 'Votre article « Ω » a été acheté', text });
      expect(sink.got).toHaveLength(1);
      const [m] = sink.got;
      expect(m!.from).toBe('ne-pas-repondre@etuservices.example');
      expect(m!.to).toEqual(['lea@etu.example']);
      // every line ends with CRLF; a line starting with '.' was doubled on the wire
      expect(m!.data.replace(/\r\n/g, '')).not.toContain('\n');
      const message = m!.data.replace(/\r\n/g, '\n').replace(/^\./gm, '');
      const { headers, rawBody } = parse(message);
      expect(headers.get('To')).toBe('lea@etu.example');
      expect(libmime.decodeWords(headers.get('Subject')!)).toBe('Votre article « Ω » a été acheté');
      expect(libqp.decode(rawBody).toString('utf8')).toBe(`${text}\n`);
    } finally {
      await sink.close();
    }
  });
});
