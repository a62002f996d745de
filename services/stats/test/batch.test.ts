// RecordServiceCalls (the gateway's batches): each item recorded as RecordServiceCall records it,
// event ids deduplicated across batches (a retried batch counts nothing twice), and one bad item
// refuses the whole batch before anything is stored.
import { status } from '@grpc/grpc-js';
import { ACHAT, ALLOWED, DENIED, readUsage, useTestStats, VENTE } from './helpers';

const env = useTestStats();

test('a batch counts each call once; the same batch sent again counts only its denials again', async () => {
  const calls = [
    { eventId: 'b-1', userId: 'lot', service: VENTE, outcome: ALLOWED },
    { eventId: 'b-2', userId: 'lot', service: ACHAT, outcome: ALLOWED },
    { eventId: 'b-3', userId: 'lot', service: VENTE, outcome: ALLOWED },
  ];
  expect(await env.t.call.recordServiceCalls({ calls })).toEqual({ duplicates: 0 });
  expect(await env.t.call.recordServiceCalls({ calls })).toEqual({ duplicates: 3 });
  const u = await readUsage(env.redis, 'lot');
  expect([u.allowed[0]!.count, u.allowed[1]!.count]).toEqual([2, 1]);
  const d = await env.t.call.getDashboard({});
  expect(d.serviceTotals.map((t) => t.count)).toEqual([2, 1]);
});

test('one bad item → INVALID_ARGUMENT naming it, nothing stored', async () => {
  const before = await env.redis.dbsize();
  await expect(
    env.t.call.recordServiceCalls({
      calls: [
        { eventId: 'ok-1', userId: 'lot2', service: VENTE, outcome: ALLOWED },
        { eventId: 'bad', userId: 'lot2', service: VENTE, outcome: DENIED, count: 0 },
      ],
    }),
  ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^calls\[1\]\.count/) });
  expect(await env.redis.dbsize()).toBe(before);
});
