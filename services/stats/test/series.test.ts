// The per-minute series of the last hour: each call lands in its UTC minute, the buckets sum to
// the totals of the last hour's calls, older calls stay out, and buckets expire.
import { ACHAT, ALLOWED, DENIED, useTestStats, VENTE } from './helpers';

const MIN = 60_000;
const env = useTestStats();

test('the minute series holds the last hour, minute by minute, and sums to its totals', async () => {
  // Keep the whole test inside one minute so "now" names the same bucket throughout.
  if (Date.now() % MIN > 55_000) await new Promise((r) => setTimeout(r, MIN - (Date.now() % MIN) + 50));
  const now = Date.now();
  const ago = (m: number) => new Date(now - m * MIN);
  let n = 0;
  const call = (service: number, outcome: number, at?: Date) =>
    env.t.call.recordServiceCall({ eventId: `e${++n}`, userId: `u${n % 3}`, service, outcome, at });

  // The current minute: two calls "now" (no time given), one dated 10 minutes ahead (a caller's
  // clock running fast counts as now), one denied Achat.
  await call(VENTE, ALLOWED);
  await call(VENTE, ALLOWED);
  await call(VENTE, ALLOWED, new Date(now + 10 * MIN));
  await call(ACHAT, DENIED);
  // 5 minutes ago: two allowed Achat; 30 minutes ago: one denied Vente, one allowed Vente;
  // 59 minutes ago: the oldest bucket of the series.
  await call(ACHAT, ALLOWED, ago(5));
  await call(ACHAT, ALLOWED, ago(5));
  await call(VENTE, DENIED, ago(30));
  await call(VENTE, ALLOWED, ago(30));
  await call(ACHAT, ALLOWED, ago(59));
  // Outside the series: 60 and 90 minutes ago (bucket kept until it expires) and 3 hours ago
  // (too old for any bucket). They still count in the totals.
  await call(VENTE, ALLOWED, ago(60));
  await call(ACHAT, DENIED, ago(90));
  await call(VENTE, ALLOWED, ago(180));

  const d = await env.t.call.getDashboard({});
  const current = Math.floor(now / MIN) * MIN;
  expect(d.lastHour).toHaveLength(60);
  expect(d.lastHour.map((b) => b.minute!.getTime())).toEqual(Array.from({ length: 60 }, (_, i) => current - (59 - i) * MIN));
  const nonEmpty = d.lastHour
    .map((b, i) => ({ i, v: b.venteAllowed, a: b.achatAllowed, vd: b.venteDenied, ad: b.achatDenied }))
    .filter((b) => b.v + b.a + b.vd + b.ad > 0);
  expect(nonEmpty).toEqual([
    { i: 0, v: 0, a: 1, vd: 0, ad: 0 },
    { i: 29, v: 1, a: 0, vd: 1, ad: 0 },
    { i: 54, v: 0, a: 2, vd: 0, ad: 0 },
    { i: 59, v: 3, a: 0, vd: 0, ad: 1 },
  ]);

  const sum = (f: (b: (typeof d.lastHour)[number]) => number) => d.lastHour.reduce((s, b) => s + f(b), 0);
  // The series sums to the totals of the calls of the last hour: every total minus the three
  // older calls (VENTE allowed 60 and 180 minutes ago, ACHAT denied 90 minutes ago).
  expect(d.serviceTotals).toEqual([
    { service: VENTE, count: 6 },
    { service: ACHAT, count: 3 },
  ]);
  expect(d.deniedTotals).toEqual([
    { service: VENTE, count: 1 },
    { service: ACHAT, count: 2 },
  ]);
  expect(sum((b) => b.venteAllowed)).toBe(6 - 2);
  expect(sum((b) => b.achatAllowed)).toBe(3);
  expect(sum((b) => b.venteDenied)).toBe(1);
  expect(sum((b) => b.achatDenied)).toBe(2 - 1);

  // Buckets expire 2 h after their minute ends; the 3-hour-old call made none.
  const buckets = (await env.redis.keys('stats:minute:*')).sort();
  expect(buckets).toHaveLength(6);
  for (const k of buckets) {
    const ttl = await env.redis.pttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2 * 3600_000 + MIN);
  }
  const iso = new Date(current).toISOString();
  const name = `stats:minute:${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}`;
  expect(buckets).toContain(name);
  expect(await env.redis.hgetall(name)).toEqual({ 'vente:allowed': '3', 'achat:denied': '1' });
  expect(await env.redis.pttl(name)).toBeGreaterThan(2 * 3600_000 - MIN);
});
