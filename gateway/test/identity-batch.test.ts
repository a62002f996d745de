// The identity check's call pattern: the sessions checked in one turn of the event loop are
// asked of auth in one GetUsers, and each session gets its own verdict from it.
import { identityMiddleware } from '../src/middleware/identity';
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
    auth: {
      getUsers: (req) => {
        asked.push(req.ids);
        return Promise.resolve({ users: req.ids.filter((id) => existing.has(id)).map((id) => ({ id }) as never) });
      },
    },
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
