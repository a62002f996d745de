// The whole request path on a real Redis Cluster (testkit's startRedisCluster: three masters,
// three replicas, started here and killed afterwards): two gateways, each with its own limiter
// replica and its own session connection, over one cluster that holds the quotas, the sessions
// and the statistics. One user's session works through both gateways; 50 concurrent Vente posts
// spread over both admit exactly 10; every statistics key sits in the one `{stats}` slot.
import { checkHealth, createRedis, keySlot, waitReady, type RedisClient } from '@etu/common';
import { stats as statsProto } from '@etu/proto';
import { startRedisCluster, TEST_TOKEN, testLogger, type RedisClusterHandle } from '@etu/testkit';
import { startLimiterServer, type LimiterServer } from '@etu/limiter';
import { startSystem, type Gateway, type System } from './system';
import { textOf, WebClient } from './browser';

let cluster: RedisClusterHandle;
let sys: System;
let limiter2: LimiterServer;
let sessions2: RedisClient;
let gw1: Gateway;
let gw2: Gateway;
const PASSWORD = 'correct-horse-battery';

async function serving(addr: string) {
  const until = Date.now() + 15_000;
  while ((await checkHealth(addr, '', 500).catch(() => 'UNKNOWN')) !== 'SERVING') {
    if (Date.now() > until) throw new Error(`${addr} not SERVING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  sys = await startSystem({ redisUrl: cluster.url });
  limiter2 = await startLimiterServer({ addr: '127.0.0.1:0', log: testLogger(), token: TEST_TOKEN, redisUrl: cluster.url });
  for (const a of [sys.addrs.LIMITER_ADDR, sys.addrs.STATS_ADDR, `127.0.0.1:${limiter2.port}`]) await serving(a);
  sessions2 = createRedis(cluster.url, { name: 'gateway-sessions', commandTimeoutMs: 2000, connectTimeoutMs: 2000 });
  await waitReady(sessions2, 10_000);
  gw1 = await sys.gateway();
  gw2 = await sys.gateway({}, { LIMITER_ADDR: `127.0.0.1:${limiter2.port}` }, sessions2);
}, 60_000);

afterAll(async () => {
  sessions2?.disconnect();
  await limiter2?.close();
  await sys?.close();
  await cluster?.stop();
});

/** Every key of the cluster (SCAN on each master), with the port of the master holding it. */
async function allKeys(): Promise<Array<{ key: string; port: number }>> {
  const out: Array<{ key: string; port: number }> = [];
  for (const m of (await cluster.nodes()).filter((n) => n.role === 'master')) {
    const r = cluster.node(m.port);
    try {
      for (const key of await r.keys('*')) out.push({ key, port: m.port });
    } finally {
      r.disconnect();
    }
  }
  return out;
}

test('two gateways, two limiters, one cluster: one session through both, 50 concurrent Vente → exactly 10', async () => {
  const id = await sys.createUser({ firstName: 'Clara', lastName: 'Grappe', email: 'clara.cluster@etu.example', password: PASSWORD });
  const c1 = new WebClient(gw1.server, '10.7.0.1');
  expect((await c1.login('clara.cluster@etu.example', PASSWORD)).status).toBe(303);
  await c1.get('/services');
  // the same browser through the other gateway: the session is read from the cluster
  const c2 = new WebClient(gw2.server, '10.7.0.1').adopt(c1);
  expect(textOf((await c2.get('/services')).text)).toContain('Clara');

  const sell = (c: WebClient, i: number) =>
    c.post('/services/vente', { titre: `Grappe ${i}`, categorie: 'livre', etat: 'bon', prix: '3', description: 'Bon état' });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sell(i % 2 ? c2 : c1, i)));
  const statuses = results.map((r) => r.status);
  expect(statuses.filter((s) => s === 303)).toHaveLength(10);
  expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  const { listings } = await gw1.clients.market.listListings({
    filter: { sellerId: id, category: 0, excludeSellerId: '', status: 0 },
    pageSize: 100,
    pageToken: '',
  });
  expect(listings).toHaveLength(10);

  // the statistics, on the cluster too: the 10 allowed Vente and the login are counted
  const until = Date.now() + 10_000;
  for (;;) {
    const d = await gw1.clients.stats.getDashboard({});
    const vente = d.serviceTotals.find((t) => t.service === statsProto.ServiceKind.SERVICE_KIND_VENTE);
    if (vente?.count === 10 && d.totalLogins >= 1) break;
    if (Date.now() > until) throw new Error(`statistics not updated: ${JSON.stringify(d.serviceTotals)}, ${String(d.totalLogins)} logins`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // the session is one key on the cluster; logging out through one gateway ends it for both
  const sid = c1.cookie('etu_sid')!;
  expect(await sys.sessionRedis.exists(`sess:${sid}`)).toBe(1);
  expect((await c2.post('/logout', {})).status).toBe(303);
  expect(await sys.sessionRedis.exists(`sess:${sid}`)).toBe(0);
  expect((await c1.get('/services')).status).toBe(303);
});

test('on the cluster: every statistics key in the one {stats} slot, quotas spread, one marker per store', async () => {
  const keys = await allKeys();
  const stats = keys.filter((k) => k.key.startsWith('{stats}'));
  expect(stats.length).toBeGreaterThan(5);
  expect(new Set(stats.map((k) => keySlot(k.key))).size).toBe(1);
  expect(new Set(stats.map((k) => k.port)).size).toBe(1);
  // nothing of the statistics outside the tag
  expect(keys.filter((k) => /(?:^|\W)stats:/.test(k.key) && !k.key.startsWith('{stats}'))).toEqual([]);
  expect(keys.filter((k) => k.key.startsWith('rl:')).length).toBeGreaterThan(0);
  expect(
    keys
      .map((k) => k.key)
      .filter((k) => k.includes('etu:store:init'))
      .sort(),
  ).toEqual(['etu:store:init:limiter', 'etu:store:init:sessions', '{stats}etu:store:init:stats']);
});
