// Vente and Achat are safe to retry (issue 22): a sale form sent twice (or a JSON call with one
// Idempotency-Key) makes one listing, counted once; a purchase whose answer was lost after the
// market committed is answered as the success it is when the buyer retries, counted once.
// Real services, database and Redis; the lost answer is a TCP relay of the test's own between a
// gateway and the market, cut after the market has committed.
import { startTcpRelay, type TcpRelay } from '@etu/testkit';
import { market } from '@etu/proto';
import { CLAIM_PREFIX } from '../src/lib/call-claims';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let sys: System;
let gw: Gateway;
let ipSeq = 0;
let userSeq = 0;
const PASSWORD = 'correct-horse-battery';

async function loggedIn(g: Gateway = gw) {
  const n = ++userSeq;
  const email = `idem${n}@etu.example`;
  const id = await sys.createUser({ firstName: `Idem${n}`, lastName: 'Test', email, password: PASSWORD });
  const c = new WebClient(g.server, `10.22.0.${++ipSeq}`);
  expect((await c.login(email, PASSWORD)).status).toBe(303);
  await c.get('/services'); // the CSRF token of the new session
  return { id, email, c };
}

async function listingsOf(sellerId: string): Promise<market.Listing[]> {
  const res = await gw.clients.market.listListings({
    filter: { sellerId, category: 0, excludeSellerId: '', status: 0 },
    pageSize: 100,
    pageToken: '',
  });
  return res.listings;
}

/** The hidden idempotency key of the sale form on the services page. */
async function formKey(c: WebClient): Promise<string> {
  const page = await c.get('/services');
  const key = /name="cle" value="([^"]+)"/.exec(page.text)?.[1];
  expect(key).toMatch(/^[0-9a-f-]{36}$/);
  return key!;
}

async function callsLeft(c: WebClient): Promise<number> {
  const text = textOf((await c.get('/services')).text);
  const m = /Il vous reste (\d+) actions? sur 10/.exec(text);
  return m ? Number(m[1]) : 0;
}

const venteFields = (titre: string, cle: string) => ({
  titre,
  categorie: 'livre',
  etat: 'bon',
  prix: '9,50',
  description: 'Bon état',
  cle,
});

beforeAll(async () => {
  sys = await startSystem();
  gw = await sys.gateway();
});

afterAll(async () => {
  await sys?.close();
});

describe('Vente with an idempotency key', () => {
  test('each page load gives the sale form a key of its own', async () => {
    const s = await loggedIn();
    expect(await formKey(s.c)).not.toBe(await formKey(s.c));
  });

  test('one form sent twice → one listing, one call counted, and the second answer is the same success', async () => {
    const s = await loggedIn();
    const cle = await formKey(s.c);
    const first = await s.c.post('/services/vente', venteFields('Thermodynamique', cle));
    expect(first.status).toBe(303);
    const second = await s.c.post('/services/vente', venteFields('Thermodynamique', cle));
    expect(second.status).toBe(303);
    expect(second.headers.ratelimit).toBeUndefined(); // no quota call was made
    expect(textOf((await s.c.get('/services')).text)).toContain('Votre article « Thermodynamique » est en vente pour 9,50');
    expect((await listingsOf(s.id)).map((l) => l.title)).toEqual(['Thermodynamique']);
    expect(await callsLeft(s.c)).toBe(9);
    // A new form (a new key) is a new sale.
    expect((await s.c.post('/services/vente', venteFields('Thermodynamique', await formKey(s.c)))).status).toBe(303);
    expect(await listingsOf(s.id)).toHaveLength(2);
    expect(await callsLeft(s.c)).toBe(8);
  });

  test('one form sent several times at once → still one listing', async () => {
    const s = await loggedIn();
    const cle = await formKey(s.c);
    const answers = await Promise.all(Array.from({ length: 6 }, () => s.c.post('/services/vente', venteFields('Optique', cle))));
    expect(answers.map((r) => r.status)).toEqual(Array(6).fill(303));
    expect(await listingsOf(s.id)).toHaveLength(1);
  });

  test('JSON API: the same Idempotency-Key twice → the same listing, replayed, counted once', async () => {
    const s = await loggedIn();
    const post = (key: string) =>
      s.c.agent
        .post('/services/vente')
        .set('Accept', 'application/json')
        .set('X-Forwarded-For', s.c.ip!)
        .set('Idempotency-Key', key)
        .type('json')
        .send({ titre: 'Chimie organique', categorie: 'livre', etat: 'bon', prix: '20', description: '', _csrf: s.c.token });
    const a = await post('"8e03978e-40d5-43e8-bc93-6894a57f9324"');
    const b = await post('8e03978e-40d5-43e8-bc93-6894a57f9324'); // quoted or not: the same key
    expect([a.status, b.status]).toEqual([303, 303]);
    expect(a.body.rejoue).toBe(false);
    expect(b.body.rejoue).toBe(true);
    expect(b.body.article.id).toBe(a.body.article.id);
    expect(await listingsOf(s.id)).toHaveLength(1);
    expect(await callsLeft(s.c)).toBe(9);
  });

  test('a bad key → 400 in French, nothing stored, nothing counted', async () => {
    const s = await loggedIn();
    const tooLong = await s.c.post('/services/vente', venteFields('Livre', 'k'.repeat(65)));
    expect(tooLong.status).toBe(400);
    expect(textOf(tooLong.text)).toContain("La clé d'idempotence ne doit pas dépasser 64 caractères.");
    const badChars = await s.c.post('/services/vente', venteFields('Livre', 'clé <script>'));
    expect(badChars.status).toBe(400);
    expect(textOf(badChars.text)).toContain("La clé d'idempotence ne peut contenir que des lettres sans accent");
    const emptyHeader = await s.c.agent
      .post('/services/vente')
      .set('Accept', 'application/json')
      .set('X-Forwarded-For', s.c.ip!)
      .set('Idempotency-Key', '')
      .type('json')
      .send({ titre: 'Livre', categorie: 'livre', etat: 'bon', prix: '2', description: '', _csrf: s.c.token });
    expect(emptyHeader.status).toBe(400);
    expect(await listingsOf(s.id)).toHaveLength(0);
    expect(await callsLeft(s.c)).toBe(10);
  });
});

describe('Achat retried by the same buyer', () => {
  test('a second Achat of an article already mine → the same success, not counted', async () => {
    const seller = await loggedIn();
    await seller.c.post('/services/vente', venteFields('Algèbre', await formKey(seller.c)));
    const [l] = await listingsOf(seller.id);
    const buyer = await loggedIn();
    await buyer.c.get('/services');
    expect((await buyer.c.post('/services/achat', { article_id: l!.id })).status).toBe(303);
    const again = await buyer.c.post('/services/achat', { article_id: l!.id });
    expect(again.status).toBe(303);
    expect(textOf((await buyer.c.get('/services')).text)).toContain('Vous avez acheté « Algèbre » pour 9,50');
    expect(await callsLeft(buyer.c)).toBe(9);
    // Someone else still gets « déjà vendu ».
    const late = await loggedIn();
    await late.c.get('/services');
    const refused = await late.c.post('/services/achat', { article_id: l!.id });
    expect(refused.status).toBe(409);
    expect(textOf(refused.text)).toContain('Cet article a déjà été vendu.');
  });

  describe('the answer is lost after the market committed', () => {
    let relay: TcpRelay;
    let far: Gateway;

    beforeAll(async () => {
      const [host, port] = sys.addrs.MARKET_ADDR.split(':') as [string, string];
      relay = await startTcpRelay({ host, port: Number(port) });
      far = await sys.gateway({}, { MARKET_ADDR: `127.0.0.1:${relay.port}` });
    });

    afterAll(async () => {
      await relay?.close();
    });

    test('the retry succeeds once and the quota counts one call', async () => {
      const seller = await loggedIn();
      await seller.c.post('/services/vente', venteFields('Mécanique quantique', await formKey(seller.c)));
      const [l] = await listingsOf(seller.id);
      const buyer = await loggedIn(far);
      await buyer.c.get('/services');

      // From the moment the Purchase is sent, the market's replies stop reaching this gateway
      // (the wrapper only times the fault; the call itself is the real one): the purchase
      // commits, its answer waits.
      const purchase = far.clients.market.purchase;
      far.clients.market.purchase = (...args) => {
        relay.holdReplies(true);
        return purchase(...args);
      };
      const lost = buyer.c.post('/services/achat', { article_id: l!.id });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const now = (await gw.clients.market.getListing({ id: l!.id })).listing!;
        if (now.status === market.ListingStatus.LISTING_STATUS_SOLD) {
          expect(now.buyerId).toBe(buyer.id);
          break;
        }
        if (Date.now() > deadline) throw new Error('the purchase never reached the market');
        await new Promise((r) => setTimeout(r, 20));
      }
      // Then the link breaks: the gateway never hears that the purchase succeeded.
      await relay.cut();
      const first = await lost;
      expect(first.status).toBe(503);
      // The outcome is unknown: the claim is settled, so the retry asks the market (without waiting).
      expect(await sys.sessionRedis.get(`${CLAIM_PREFIX}${buyer.id}:SERVICE_KIND_ACHAT:${l!.id}`)).toBe('1');
      relay.holdReplies(false);
      await relay.restore();

      // The buyer retries (a user would, after « réessayez »): success, the article is theirs.
      let retry = await buyer.c.post('/services/achat', { article_id: l!.id });
      for (let i = 0; retry.status === 503 && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        retry = await buyer.c.post('/services/achat', { article_id: l!.id });
      }
      expect(retry.status).toBe(303);
      const page = textOf((await buyer.c.get('/services')).text);
      expect(page).toContain('Vous avez acheté « Mécanique quantique » pour 9,50');
      expect(await callsLeft(buyer.c)).toBe(9);
    });
  });
});

describe('the replay check asks the market only for a key used before (issue 16)', () => {
  /** The replay checks the gateway counted so far (etu_replay_checks_total). */
  const checks = async (service: string): Promise<[number, number, number]> => {
    const count = (result: string) => gw.metrics.value('etu_replay_checks_total', { service, result });
    return [await count('first'), await count('done'), await count('not_done')];
  };
  /** The gateway's calls of one market method so far. */
  const marketCalls = (method: string) =>
    gw.metrics.value('grpc_client_handled_total', { grpc_service: 'etuservices.market.v1.MarketService', grpc_method: method });
  const json = (s: Awaited<ReturnType<typeof loggedIn>>, path: string, fields: Record<string, string>, key?: string) => {
    const req = s.c.agent.post(path).set('Accept', 'application/json').set('X-Forwarded-For', s.c.ip!);
    if (key) void req.set('Idempotency-Key', key);
    return req.type('form').send({ ...fields, _csrf: s.c.token });
  };

  test('a first Vente and a first Achat make no FindSale or GetListing call; sent again, they do and are answered as done', async () => {
    const seller = await loggedIn();
    const cle = await formKey(seller.c);
    const findSale = await marketCalls('FindSale');
    const [first, done, notDone] = await checks('vente');
    expect((await seller.c.post('/services/vente', venteFields('Analyse réelle', cle))).status).toBe(303);
    expect(await marketCalls('FindSale')).toBe(findSale);
    expect(await checks('vente')).toEqual([first + 1, done, notDone]);
    expect((await seller.c.post('/services/vente', venteFields('Analyse réelle', cle))).status).toBe(303);
    expect(await marketCalls('FindSale')).toBe(findSale + 1);
    expect(await checks('vente')).toEqual([first + 1, done + 1, notDone]);
    expect(await listingsOf(seller.id)).toHaveLength(1);
    expect(await callsLeft(seller.c)).toBe(9);

    const [l] = await listingsOf(seller.id);
    const buyer = await loggedIn();
    const getListing = await marketCalls('GetListing');
    expect((await buyer.c.post('/services/achat', { article_id: l!.id })).status).toBe(303);
    expect(await marketCalls('GetListing')).toBe(getListing);
    const again = await json(buyer, '/services/achat', { article_id: l!.id });
    expect([again.status, again.body.rejoue]).toEqual([303, true]);
    expect(await marketCalls('GetListing')).toBe(getListing + 1);
    expect(await callsLeft(buyer.c)).toBe(9);
  });

  test('a refused Achat gives its key back: the next try is a new call, without the replay check', async () => {
    const seller = await loggedIn();
    await seller.c.post('/services/vente', venteFields('Topologie', await formKey(seller.c)));
    const [l] = await listingsOf(seller.id);
    const buyer = await loggedIn();
    const getListing = await marketCalls('GetListing');
    const [first, done, notDone] = await checks('achat');
    // The form showed another version of the listing: the market refuses, the call is counted.
    const stale = await buyer.c.post('/services/achat', { article_id: l!.id, version: String(l!.version + 1) });
    expect(stale.status).toBe(409);
    const bought = await json(buyer, '/services/achat', { article_id: l!.id, version: String(l!.version) });
    expect([bought.status, bought.body.rejoue]).toEqual([303, false]);
    expect(await marketCalls('GetListing')).toBe(getListing);
    expect(await checks('achat')).toEqual([first + 2, done, notDone]);
    expect(await callsLeft(buyer.c)).toBe(8);
  });

  test('a claim lost from the session store (evicted, expired): the resend is counted, and still answered as done', async () => {
    const seller = await loggedIn();
    const key = 'b0c6b1e2-6f7e-4d0a-9a53-2f0d3c1f5e11';
    const fields = { titre: 'Géométrie', categorie: 'livre', etat: 'bon', prix: '4', description: '' };
    const first = await json(seller, '/services/vente', fields, key);
    expect([first.status, first.body.rejoue]).toEqual([303, false]);
    const buyer = await loggedIn();
    expect((await json(buyer, '/services/achat', { article_id: String(first.body.article.id) })).status).toBe(303);
    const claims = await sys.sessionRedis.keys(`${CLAIM_PREFIX}*`);
    expect(claims.length).toBeGreaterThanOrEqual(2);
    await sys.sessionRedis.del(...claims);

    const sale = await json(seller, '/services/vente', fields, key);
    expect([sale.status, sale.body.rejoue, sale.body.article.id]).toEqual([303, true, first.body.article.id]);
    expect(await listingsOf(seller.id)).toHaveLength(1);
    expect(await callsLeft(seller.c)).toBe(8);
    const purchase = await json(buyer, '/services/achat', { article_id: String(first.body.article.id) });
    expect([purchase.status, purchase.body.rejoue]).toEqual([303, true]);
    expect(await callsLeft(buyer.c)).toBe(8);
  });
});

describe('the same call sent again while it is in flight (a double click) waits for it instead of being counted', () => {
  let slow: Gateway;
  /** The gateway's counts so far: replay checks by result, and calls that waited. */
  const counts = async (service: string) => {
    const check = (result: string) => slow.metrics.value('etu_replay_checks_total', { service, result });
    return {
      first: await check('first'),
      done: await check('done'),
      notDone: await check('not_done'),
      waited: await slow.metrics.value('etu_replay_waits_total', { service }),
    };
  };
  const json = (s: Awaited<ReturnType<typeof loggedIn>>, path: string, fields: Record<string, string>) =>
    s.c.agent
      .post(path)
      .set('Accept', 'application/json')
      .set('X-Forwarded-For', s.c.ip!)
      .type('form')
      .send({ ...fields, _csrf: s.c.token });

  beforeAll(async () => {
    // A gateway whose market answers Purchase and CreateListing 300 ms late (the calls themselves
    // are the real ones): the first request is surely still in flight when its copies arrive.
    slow = await sys.gateway();
    const market = slow.clients.market;
    const { purchase, createListing } = market;
    market.purchase = async (...args) => {
      await new Promise((r) => setTimeout(r, 300));
      return purchase(...args);
    };
    market.createListing = async (...args) => {
      await new Promise((r) => setTimeout(r, 300));
      return createListing(...args);
    };
  });

  test('two identical Achat at once → one purchase, both answered with its success, one call counted', async () => {
    const seller = await loggedIn();
    await seller.c.post('/services/vente', venteFields('Électromagnétisme', await formKey(seller.c)));
    const [l] = await listingsOf(seller.id);
    const buyer = await loggedIn(slow);
    const before = await counts('achat');
    const answers = await Promise.all([0, 1].map(() => json(buyer, '/services/achat', { article_id: l!.id })));
    expect(answers.map((r) => r.status)).toEqual([303, 303]);
    expect(answers.map((r) => r.body.rejoue as boolean).sort()).toEqual([false, true]);
    expect(answers.map((r) => r.body.article.id)).toEqual([l!.id, l!.id]);
    // Only the call that bought asked the limiter.
    expect(answers.filter((r) => r.headers.ratelimit !== undefined).map((r) => r.headers.ratelimit)).toEqual(['"service";r=9;t=600']);
    const sold = (await gw.clients.market.getListing({ id: l!.id })).listing!;
    expect([sold.status, sold.buyerId]).toEqual([market.ListingStatus.LISTING_STATUS_SOLD, buyer.id]);
    expect(await callsLeft(buyer.c)).toBe(9);
    expect(await counts('achat')).toEqual({ ...before, first: before.first + 1, done: before.done + 1, waited: before.waited + 1 });
    // The copy was let go by the first call's end (the claim settled), not by the claim's deadline.
    expect(await sys.sessionRedis.get(`${CLAIM_PREFIX}${buyer.id}:SERVICE_KIND_ACHAT:${l!.id}`)).toBe('1');
  });

  test('four identical Vente (one form key) at once → one listing, one call counted', async () => {
    const seller = await loggedIn(slow);
    const cle = await formKey(seller.c);
    const before = await counts('vente');
    const answers = await Promise.all(Array.from({ length: 4 }, () => json(seller, '/services/vente', venteFields('Relativité', cle))));
    expect(answers.map((r) => r.status)).toEqual([303, 303, 303, 303]);
    expect(answers.map((r) => r.body.rejoue as boolean).sort()).toEqual([false, true, true, true]);
    const listings = await listingsOf(seller.id);
    expect(listings.map((l) => l.title)).toEqual(['Relativité']);
    expect(new Set(answers.map((r) => r.body.article.id))).toEqual(new Set([listings[0]!.id]));
    expect(await callsLeft(seller.c)).toBe(9);
    expect(await counts('vente')).toEqual({ ...before, first: before.first + 1, done: before.done + 3, waited: before.waited + 3 });
    expect(await sys.sessionRedis.get(`${CLAIM_PREFIX}${seller.id}:SERVICE_KIND_VENTE:${cle}`)).toBe('1');
  });

  test('a copy of a refused call is not kept waiting for nothing: once the first is refused, it is a new call', async () => {
    const seller = await loggedIn(slow);
    await seller.c.post('/services/vente', venteFields('Optique ondulatoire', await formKey(seller.c)));
    const [l] = await listingsOf(seller.id);
    const before = await counts('achat');
    // The seller buys their own item twice at once: the market refuses the first (409, counted);
    // the copy waited, then, the key given back, claimed it and was refused as a call of its own.
    const answers = await Promise.all([0, 1].map(() => json(seller, '/services/achat', { article_id: l!.id })));
    const refused = [409, 'impossible', 'Vous ne pouvez pas acheter votre propre article.'];
    expect(answers.map((r) => [r.status, r.body.error, r.body.message])).toEqual([refused, refused]);
    expect(await callsLeft(seller.c)).toBe(7);
    // Both were first calls with the key: none asked the market whether it was done.
    expect(await counts('achat')).toEqual({ ...before, first: before.first + 2, waited: before.waited + 1 });
  });

  test('a pending claim left by a call that died holds a retry until its deadline at most, then the retry goes on', async () => {
    const seller = await loggedIn(slow);
    const cle = await formKey(seller.c);
    // As a gateway stopped during the call would leave it: pending for one more second.
    await sys.sessionRedis.set(`${CLAIM_PREFIX}${seller.id}:SERVICE_KIND_VENTE:${cle}`, `p:${Date.now() + 1000}`, 'PX', 3600_000);
    const before = await counts('vente');
    const t0 = Date.now();
    const sale = await json(seller, '/services/vente', venteFields('Acoustique', cle));
    // Functional deadline, far above the claim's second: the retry is not held for the pending bound.
    expect(Date.now() - t0).toBeLessThan(4000);
    expect([sale.status, sale.body.rejoue]).toEqual([303, false]);
    expect((await listingsOf(seller.id)).map((l) => l.title)).toEqual(['Acoustique']);
    expect(await callsLeft(seller.c)).toBe(9);
    expect(await counts('vente')).toEqual({ ...before, notDone: before.notDone + 1, waited: before.waited + 1 });
  });
});
