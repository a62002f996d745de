// After a purchase (issue 19, item 4), over HTTP in front of the four real services: « Mes achats »
// shows the seller's full name and e-mail to the buyer, « Mes articles » shows « vendu à … » with
// the buyer's contact to the seller, and nobody else sees either (a third student, a visitor, the
// admin). The seller is told by e-mail (the outbox, read as a user would); a mail that cannot be
// sent neither fails nor holds the purchase, and its failure is logged without the address.
import { market } from '@etu/proto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailQueue, pruneOutbox } from '../src/lib/mailer';
import { batchedUsers } from '../src/lib/user-lookup';
import { testLogger } from '@etu/testkit';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

const client = (g: Gateway = gw) => new WebClient(g.server, `10.23.0.${++ipSeq}`);

async function person(firstName: string, lastName: string, admin = false) {
  const n = ++userSeq;
  const email = `etudiant.${n}@etu.example`;
  const id = await sys.createUser({ firstName, lastName, email, password: PASSWORD, admin });
  return { id, email, firstName, lastName };
}

async function loggedIn(firstName: string, lastName: string, opts: { admin?: boolean; g?: Gateway } = {}) {
  const u = await person(firstName, lastName, opts.admin);
  const c = client(opts.g);
  expect((await c.login(u.email, PASSWORD)).status).toBe(303);
  await c.get('/services');
  return { ...u, c };
}

async function listing(sellerId: string, title: string, priceCents = 1500) {
  const res = await gw.clients.market.createListing({
    sellerId,
    title,
    category: market.Category.CATEGORY_BOOK,
    priceCents,
    condition: market.Condition.CONDITION_GOOD,
    photos: [],
    description: 'Remise sur le campus.',
    idempotencyKey: '',
  });
  return res.listing!.id;
}

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
});

afterAll(async () => {
  await sys?.close();
});

describe('after a purchase', () => {
  test('buyer and seller each see the other’s name and e-mail; the seller is told by e-mail', async () => {
    const seller = await loggedIn('Sidonie', 'Marchand');
    const buyer = await loggedIn('Bastien', 'Acheteur');
    const id = await listing(seller.id, 'Chimie organique – Clayden', 3200);
    const before = (await sys.mails()).length;

    await buyer.c.get(`/articles/${id}/acheter`);
    const bought = await buyer.c.post('/services/achat', { article_id: id });
    expect(bought.status).toBe(303);
    expect(textOf((await buyer.c.get('/services')).text)).toContain('Les coordonnées du vendeur sont dans « Mes achats »');

    const mine = await buyer.c.get('/achats');
    expect(mine.status).toBe(200);
    const text = textOf(mine.text);
    expect(text).toContain('Mes achats');
    expect(text).toContain('Chimie organique – Clayden');
    expect(text).toContain('Vendu par Sidonie Marchand');
    expect(mine.text).toContain(`href="mailto:${seller.email}"`);
    expect(text).not.toContain(buyer.email);

    const json = await buyer.c.get('/achats', 'application/json');
    expect(json.body.achats).toEqual([
      expect.objectContaining({
        id,
        titre: 'Chimie organique – Clayden',
        vendeur: { nom: 'Sidonie Marchand', email: seller.email, supprime: false },
      }),
    ]);

    const sellerPage = await seller.c.get('/services');
    expect(textOf(sellerPage.text)).toContain('vendu à Bastien Acheteur');
    expect(sellerPage.text).toContain(`href="mailto:${buyer.email}"`);
    const sellerJson = await seller.c.get('/services', 'application/json');
    expect(sellerJson.body.mesArticles[0].acheteur).toEqual({ nom: 'Bastien Acheteur', email: buyer.email, supprime: false });

    // The item page tells the buyer where the contact is.
    expect(textOf((await buyer.c.get(`/articles/${id}`)).text)).toContain('Les coordonnées du vendeur sont dans « Mes achats »');

    const mails = (await sys.mails()).slice(before);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail).toMatch(new RegExp(`^To: ${seller.email.replace('.', '\\.')}$`, 'm'));
    expect(mail).toMatch(/^Subject: /m);
    // The body is quoted-printable or plain: decode soft breaks and =XX before reading it.
    const body = decodeQp(mail);
    expect(body).toMatch(/votre article « Chimie organique – Clayden » \(32,00\s€\) vient d’être acheté/);
    expect(body).toContain('Bastien Acheteur');
    expect(body).toContain(`Adresse e-mail : ${buyer.email}`);
  });

  test('a burst of purchases: every seller gets their own mail, naming their buyer', async () => {
    const g = await sys.gateway();
    const pairs = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const seller = await loggedIn(`Vendeuse${i}`, 'Rafale', { g });
        const buyer = await loggedIn(`Acheteur${i}`, 'Rafale', { g });
        return { seller, buyer, id: await listing(seller.id, `Lot n° ${i} de la rafale`) };
      }),
    );
    const before = (await sys.mails()).length;
    const answers = await Promise.all(pairs.map((p) => p.buyer.c.post('/services/achat', { article_id: p.id })));
    expect(answers.map((a) => a.status)).toEqual(pairs.map(() => 303));
    const mails = (await sys.mails()).slice(before).map(decodeQp);
    expect(mails).toHaveLength(pairs.length);
    for (const [i, p] of pairs.entries()) {
      const mail = mails.find((m) => m.includes(`Lot n° ${i} de la rafale`));
      expect(mail).toMatch(new RegExp(`^To: ${p.seller.email.replace('.', '\\.')}$`, 'm'));
      expect(mail).toContain(`Adresse e-mail : ${p.buyer.email}`);
    }
  });

  test('a third student, a visitor and the admin see neither contact', async () => {
    const seller = await loggedIn('Solène', 'Privée');
    const buyer = await loggedIn('Boris', 'Discret');
    const id = await listing(seller.id, 'Atlas de géographie');
    await buyer.c.get('/services');
    expect((await buyer.c.post('/services/achat', { article_id: id })).status).toBe(303);

    const third = await loggedIn('Tiers', 'Curieux');
    const admin = await loggedIn('Ada', 'Admin', { admin: true });
    const visitor = client();
    // the buyer's public id too: beside each listing's `vendeurId`, it would name the buyer
    const secrets = [seller.email, buyer.email, 'Boris Discret', 'Solène Privée', 'Boris D.', buyer.id];
    const pages: [WebClient, string][] = [
      [third.c, `/articles/${id}`],
      [third.c, '/achats'],
      [third.c, '/services'],
      [admin.c, `/articles/${id}`],
      [admin.c, '/achats'],
      [admin.c, '/services'],
      [visitor, `/articles/${id}`],
      [visitor, '/articles'],
      [visitor, '/'],
    ];
    for (const [c, path] of pages) {
      for (const accept of ['text/html', 'application/json']) {
        const res = await c.get(path, accept);
        const body = accept === 'text/html' ? res.text : JSON.stringify(res.body);
        for (const s of secrets)
          expect({ path, accept, leaked: body.includes(s) ? s : undefined }).toEqual({ path, accept, leaked: undefined });
      }
    }
    // the two parties are told who bought it
    for (const party of [seller, buyer])
      expect((await party.c.get(`/articles/${id}`, 'application/json')).body.article.acheteurId).toBe(buyer.id);
    // « Mes achats » needs a login, which comes back to it.
    const anon = await visitor.get('/achats');
    expect(anon.status).toBe(303);
    expect(anon.headers.location).toBe('/login?retour=%2Fachats');
  });

  test('a mail that cannot be sent fails nothing, holds nothing, and is logged without the address', async () => {
    // A gateway whose SMTP server cannot be reached (nothing listens on port 9 here).
    const dead = await sys.gateway({ SMTP_URL: 'smtp://127.0.0.1:9', MAIL_TIMEOUT_MS: '2000', MAIL_RETRY_MS: '300' });
    const seller = await loggedIn('Sacha', 'Vendeur', { g: dead });
    const buyer = await loggedIn('Basile', 'Client', { g: dead });
    const id = await listing(seller.id, 'Calculatrice graphique');
    await buyer.c.get('/services');
    const res = await buyer.c.post('/services/achat', { article_id: id });
    expect(res.status).toBe(303);
    // idle() waits for the one retry too.
    await dead.app.mail.idle();
    const failures = dead.logLines.filter((l) => l.includes('mail not sent')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(failures).toEqual([
      expect.objectContaining({
        kind: 'achat',
        err: expect.stringMatching(/^E[A-Z]+/),
        retryInMs: 300,
        msg: 'mail not sent: tried again later',
      }),
      expect.objectContaining({ kind: 'achat', err: expect.stringMatching(/^E[A-Z]+/), attempt: 2, msg: 'mail not sent' }),
    ]);
    for (const line of dead.logLines) {
      expect(line).not.toContain(seller.email);
      expect(line).not.toContain(buyer.email);
    }
    expect(await dead.metrics.value('etu_mails_total', { kind: 'achat', outcome: 'failed' })).toBe(1);
    expect(await dead.metrics.value('etu_mails_total', { kind: 'achat', outcome: 'retried' })).toBe(1);
    // The sale happened: it is in « Mes achats ».
    expect(textOf((await buyer.c.get('/achats')).text)).toContain('Calculatrice graphique');
  });
});

describe('the mail queue', () => {
  test('bounded: a sender that never answers holds one job, the queue keeps `max`, the next is dropped', async () => {
    const outcomes: string[] = [];
    const q = new MailQueue({
      send: () => new Promise(() => undefined),
      log: testLogger(),
      max: 2,
      onOutcome: (_kind, outcome) => outcomes.push(outcome),
    });
    const mail = () => Promise.resolve({ to: 'x@example.org', subject: 's', text: 't' });
    expect(q.enqueue('achat', mail)).toBe(true);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(q.enqueue('achat', mail)).toBe(true);
    expect(q.enqueue('achat', mail)).toBe(true);
    expect(q.enqueue('achat', mail)).toBe(false);
    expect(outcomes).toEqual(['dropped']);
    expect(q.pending).toBe(3);
  });

  test('waiting messages are built together: their look-ups share one GetUsers; sent one at a time, in order', async () => {
    const asked: string[][] = [];
    const users = batchedUsers({
      getUsers: (req) => {
        asked.push(req.ids);
        return Promise.resolve({ users: req.ids.map((id) => ({ id, email: `${id}@etu.example` }) as never) });
      },
    });
    const sent: string[] = [];
    let sending = 0;
    const q = new MailQueue({
      send: async (m) => {
        expect(++sending).toBe(1);
        await new Promise((r) => setTimeout(r, 2));
        sent.push(m.to);
        sending--;
      },
      log: testLogger(),
      max: 100,
    });
    const ids = Array.from({ length: 10 }, (_, i) => `vendeur-${i}`);
    for (const id of ids) {
      q.enqueue('achat', async () => {
        const { users: found } = await users.getUsers({ ids: [id, 'acheteur'] });
        return { to: found.find((u) => u.id === id)!.email, subject: 's', text: 't' };
      });
    }
    expect(q.pending).toBe(10);
    await q.idle();
    // one call, for every waiting message (each asked for its seller and the same buyer)
    expect(asked).toEqual([[ids[0], 'acheteur', ...ids.slice(1)]]);
    expect(sent).toEqual(ids.map((id) => `${id}@etu.example`));
    expect(q.pending).toBe(0);
  });

  test('a mail that fails is tried once more later: sent then, with the message built once', async () => {
    const outcomes: string[] = [];
    const sent: string[] = [];
    let calls = 0;
    let builds = 0;
    const q = new MailQueue({
      send: (m) =>
        ++calls === 1
          ? Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }))
          : (sent.push(m.subject), Promise.resolve()),
      log: testLogger(),
      max: 10,
      retryMs: 50,
      onOutcome: (_kind, outcome) => outcomes.push(outcome),
    });
    q.enqueue('mot_de_passe', () => Promise.resolve({ to: 'x@example.org', subject: `lien ${++builds}`, text: 't' }));
    await q.idle();
    expect(outcomes).toEqual(['retried', 'sent']);
    // The same message (a reset link is not made again).
    expect(sent).toEqual(['lien 1']);
    expect(q.pending).toBe(0);
  });

  test('a retry not yet due is given up by stop() (a gateway stopping): idle() does not wait for it', async () => {
    const outcomes: string[] = [];
    const q = new MailQueue({
      send: () => Promise.reject(new Error('down')),
      log: testLogger(),
      max: 10,
      retryMs: 3_600_000,
      onOutcome: (_kind, outcome) => outcomes.push(outcome),
    });
    q.enqueue('achat', () => Promise.resolve({ to: 'x@example.org', subject: 's', text: 't' }));
    while (!outcomes.length) await new Promise((r) => setImmediate(r));
    expect(q.pending).toBe(1);
    q.stop();
    await q.idle();
    expect(outcomes).toEqual(['retried']);
    expect(q.pending).toBe(0);
  });
});

describe('the outbox', () => {
  test('pruneOutbox deletes the .eml files older than the days kept, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etu-outbox-prune-'));
    try {
      const now = Date.now();
      const file = (name: string, ageDays: number) => {
        writeFileSync(join(dir, name), 'x');
        const t = new Date(now - ageDays * 86_400_000);
        utimesSync(join(dir, name), t, t);
      };
      file('old.eml', 20);
      file('a-bit-old.eml', 13.9);
      file('new.eml', 0);
      file('old-notes.txt', 30);
      expect(await pruneOutbox(dir, 14, now)).toBe(1);
      expect(readdirSync(dir).sort()).toEqual(['a-bit-old.eml', 'new.eml', 'old-notes.txt']);
      // 0 keeps everything; a missing folder is no error.
      expect(await pruneOutbox(dir, 0, now + 100 * 86_400_000)).toBe(0);
      expect(await pruneOutbox(join(dir, 'absent'), 14, now)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function decodeQp(mail: string): string {
  return mail.replace(/=\r?\n/g, '').replace(/(?:=[0-9A-F]{2})+/g, (m) => Buffer.from(m.replace(/=/g, ''), 'hex').toString('utf8'));
}
