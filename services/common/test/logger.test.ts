// What the parts' logger writes: one JSON line per call, and never a secret. Every name of
// REDACT_PATHS is censored where the paths say (top level, one object down, a `headers` object one
// level down), in log calls and in child loggers' bindings, without touching the caller's object.
import { createLogger, REDACT_PATHS } from '../src/logger';

function logger(level = 'info') {
  const lines: string[] = [];
  const log = createLogger('test', level, { write: (s: string) => void lines.push(s) });
  const last = () => JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  return { log, lines, last };
}

const SECRET = 's3cr3t-value';
/** The names REDACT_PATHS censors, whatever their depth. */
const NAMES = [...new Set(REDACT_PATHS.map((p) => p.split('.').pop()!))];

test('REDACT_PATHS names the secrets this test checks (a new path gets a case here)', () => {
  expect(NAMES.sort()).toEqual(
    [
      'INTERNAL_TOKEN',
      'SESSION_KEYS',
      '_csrf',
      'authorization',
      'cookie',
      'csrf',
      'hash',
      'password',
      'passwordHash',
      'session',
      'sessionId',
      'token',
    ].sort(),
  );
});

test.each(NAMES)('%s: censored at the top level, and one object down unless the paths only name the top', (name) => {
  const { log, last, lines } = logger();
  log.info({ [name]: SECRET, keep: 'visible' }, 'top');
  expect(last()).toMatchObject({ [name]: '[redacted]', keep: 'visible', msg: 'top' });
  const nested = REDACT_PATHS.includes(`*.${name}`);
  log.info({ req: { [name]: SECRET, keep: 'visible' } }, 'nested');
  expect(last().req).toEqual({ [name]: nested ? '[redacted]' : SECRET, keep: 'visible' });
  if (nested) for (const line of lines) expect(line).not.toContain(SECRET);
});

test('headers: authorization and cookie censored in headers at the top and one object down', () => {
  const { log, lines, last } = logger();
  log.info({ headers: { authorization: `Bearer ${SECRET}`, cookie: `etu_sid=${SECRET}`, accept: 'text/html' } }, 'h');
  expect(last().headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', accept: 'text/html' });
  log.info({ req: { headers: { cookie: `etu_sid=${SECRET}`, host: 'x' } } }, 'h2');
  expect(last().req).toEqual({ headers: { cookie: '[redacted]', host: 'x' } });
  for (const line of lines) expect(line).not.toContain(SECRET);
});

test("the caller's object is left as it was; values that are objects or arrays are censored whole", () => {
  const { log, last } = logger();
  const obj = { token: SECRET, user: { password: SECRET, id: 'u1' }, list: [1, 2] };
  log.info(obj, 'x');
  expect(obj).toEqual({ token: SECRET, user: { password: SECRET, id: 'u1' }, list: [1, 2] });
  expect(last()).toMatchObject({ token: '[redacted]', user: { password: '[redacted]', id: 'u1' }, list: [1, 2] });
  log.info({ session: { csrf: SECRET, user: { id: 'u1' } } }, 'y');
  expect(last().session).toBe('[redacted]');
});

test("a child logger's bindings are censored too; the child's lines carry them", () => {
  const { log, lines, last } = logger();
  const child = log.child({ requestId: 'r-1', token: SECRET, ctx: { sessionId: SECRET } });
  child.info({ n: 1 }, 'from child');
  expect(last()).toMatchObject({ requestId: 'r-1', token: '[redacted]', ctx: { sessionId: '[redacted]' }, n: 1, part: 'test' });
  for (const line of lines) expect(line).not.toContain(SECRET);
});

test('errors keep their message and type; levels are names; below the level nothing is written', () => {
  const { log, lines, last } = logger('warn');
  log.info({ token: SECRET }, 'hidden');
  expect(lines).toHaveLength(0);
  log.warn({ err: new TypeError('boom') }, 'failed');
  expect(last()).toMatchObject({ level: 'warn', msg: 'failed', err: { type: 'TypeError', message: 'boom' } });
});
