// The identity check's call pattern: the sessions checked in one turn of the event loop are
// asked of auth in one GetUsers, and each session gets its own verdict from it.
import { identityMiddleware } from '../src/middleware/identity';
import { batchedUsers, MAX_IDS_PER_LOOKUP } from '../src/lib/user-lookup';
import { testLogger } from '@etu/testkit';

interface FakeSession {
  user?: { id: string };
  destroyed: boolean;
  destroy(): void;
  setFlash(): void;
}

function session(id: string): FakeSession {
  return {
    user: { id },
    destroyed: false,
    destroy() {
      this.destroyed = true;
    },
    setFlash: () => undefined,
  };
}

test('sessions checked together: one GetUsers for all their ids; a known id goes on, an unknown one is dropped', async () => {
  const asked: string[][] = [];
  const existing = new Set(['a', 'b', 'c']);
  const mw = identityMiddleware({
    // as the app wires it: auth's GetUsers behind the batcher (lib/user-lookup.ts)
    auth: batchedUsers({
      getUsers: (req) => {
        asked.push(req.ids);
        return Promise.resolve({ users: req.ids.filter((id) => existing.has(id)).map((id) => ({ id }) as never) });
      },
    }),
  });
  const sessions = ['a', 'b', 'c', 'gone'].map(session);
  const reached: string[] = [];
  await Promise.all(
    sessions.map((s) => {
      const ctx = { state: { session: s, log: testLogger() }, redirect: () => undefined, status: 200 };
      return mw(ctx as never, () => {
        reached.push(s.user!.id);
        return Promise.resolve();
      });
    }),
  );
  expect(asked).toEqual([['a', 'b', 'c', 'gone']]);
  expect(reached.sort()).toEqual(['a', 'b', 'c']);
  expect(sessions.map((s) => s.destroyed)).toEqual([false, false, false, true]);
});

describe('the GetUsers batcher', () => {
  const fakeAuth = (existing: Set<string>, asked: string[][], fail?: Error) => ({
    getUsers: (req: { ids: string[] }) => {
      asked.push(req.ids);
      if (fail) return Promise.reject(fail);
      return Promise.resolve({ users: req.ids.filter((id) => existing.has(id)).map((id) => ({ id, firstName: `n-${id}` }) as never) });
    },
  });

  test('calls of one turn share one GetUsers; each caller gets the users among its own ids, once each', async () => {
    const asked: string[][] = [];
    const users = batchedUsers(fakeAuth(new Set(['a', 'b', 'c']), asked));
    const [x, y, z] = await Promise.all([
      users.getUsers({ ids: ['a', 'gone'] }),
      users.getUsers({ ids: ['b', 'a', 'b'] }),
      users.getUsers({ ids: ['c'] }),
    ]);
    expect(asked).toEqual([['a', 'gone', 'b', 'c']]);
    expect(x.users.map((u) => u.id)).toEqual(['a']);
    expect(y.users.map((u) => u.id)).toEqual(['b', 'a']);
    expect(z.users).toEqual([{ id: 'c', firstName: 'n-c' }]);
    // the next turn is a new call
    await users.getUsers({ ids: ['a'] });
    expect(asked).toHaveLength(2);
  });

  test(`at most ${MAX_IDS_PER_LOOKUP} ids per call; a failed call fails each of its callers`, async () => {
    const asked: string[][] = [];
    const many = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const users = batchedUsers(fakeAuth(new Set(), asked));
    await Promise.all([users.getUsers({ ids: many('a', 300) }), users.getUsers({ ids: many('b', 300) }), users.getUsers({ ids: ['c'] })]);
    expect(asked.map((ids) => ids.length)).toEqual([300, 301]);

    const down = batchedUsers(fakeAuth(new Set(['a']), [], Object.assign(new Error('auth down'), { code: 14 })));
    const outcomes = await Promise.allSettled([down.getUsers({ ids: ['a'] }), down.getUsers({ ids: ['b'] })]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok'))).toEqual(['auth down', 'auth down']);
  });
});
