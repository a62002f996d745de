// LIMIT_POLICIES and the limiter's configuration: defaults, units, and a malformed value that
// stops the process with a message naming the variable (without echoing the value).
import { ConfigError, loadOrExit } from '@etu/common';
import { configShape, loadConfig } from '../src/config';
import { DEFAULT_POLICIES, parsePolicies, PolicySyntaxError } from '../src/policies';

test("the default policies are the brief's, then the account protection ones", () => {
  expect(DEFAULT_POLICIES).toBe(
    'login=10/10m,service=10/10m,login-failure=10/10m,login-failure-ip=50/10m,login-failure-account=20/10m,login-failure-device=10/10m,signup-ip=60/10m,password-reset-ip=10/1h,password-reset-account=3/1h',
  );
  expect([...parsePolicies(DEFAULT_POLICIES).values()]).toEqual([
    { name: 'login', limit: 10, windowMs: 600_000 },
    { name: 'service', limit: 10, windowMs: 600_000 },
    { name: 'login-failure', limit: 10, windowMs: 600_000 },
    { name: 'login-failure-ip', limit: 50, windowMs: 600_000 },
    { name: 'login-failure-account', limit: 20, windowMs: 600_000 },
    { name: 'login-failure-device', limit: 10, windowMs: 600_000 },
    { name: 'signup-ip', limit: 60, windowMs: 600_000 },
    { name: 'password-reset-ip', limit: 10, windowMs: 3_600_000 },
    { name: 'password-reset-account', limit: 3, windowMs: 3_600_000 },
  ]);
});

test('units ms, s, m, h; spaces around items are allowed', () => {
  const p = parsePolicies('a=1/250ms, b=2/3s ,c=3/4m,d=4/2h');
  expect([...p.values()].map((x) => [x.name, x.limit, x.windowMs])).toEqual([
    ['a', 1, 250],
    ['b', 2, 3000],
    ['c', 3, 240_000],
    ['d', 4, 7_200_000],
  ]);
});

test.each([
  [''],
  ['login'],
  ['login=10'],
  ['login=10/10'],
  ['login=10/10d'],
  ['login=ten/10m'],
  ['login=0/10m'],
  ['login=1001/10m'],
  ['login=10/0s'],
  ['login=10/32d'],
  ['login=10/745h'],
  ['login=-1/10m'],
  ['lo:gin=10/10m'],
  ['login=10/10m,'],
  ['login=10/10m,login=5/1s'],
])('%j is refused', (spec) => {
  expect(() => parsePolicies(spec)).toThrow(PolicySyntaxError);
});

test('loadConfig: defaults serve a local run', () => {
  const cfg = loadConfig({});
  expect(cfg).toMatchObject({
    LIMITER_ADDR: '127.0.0.1:50053',
    LIMITER_REDIS_URL: 'redis://127.0.0.1:6379/0',
    LIMIT_POLICIES: DEFAULT_POLICIES,
    LOG_LEVEL: 'info',
  });
  expect(Object.keys(configShape)).toEqual(
    expect.arrayContaining(['LIMITER_ADDR', 'LIMITER_REDIS_URL', 'LIMIT_POLICIES', 'INTERNAL_TOKEN']),
  );
  expect(loadConfig({ LIMIT_POLICIES: 'service=5/1m' }).LIMIT_POLICIES).toBe('service=5/1m');
});

test('a malformed LIMIT_POLICIES is a ConfigError naming it, and does not echo the value', () => {
  let err: unknown;
  try {
    loadConfig({ LIMIT_POLICIES: 'service=10/10m,login=ten/10m' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const problems = (err as ConfigError).problems;
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/^LIMIT_POLICIES: item 2 is not name=limit\/window/);
  expect(problems[0]).not.toContain('ten');
});

test('through loadOrExit, a malformed LIMIT_POLICIES stops the process with status 1 and a message naming it', () => {
  const written: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    written.push(String(s));
    return true;
  });
  const exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    throw new Error(`exit ${code}`);
  }) as never);
  try {
    expect(() => loadOrExit('limiter', () => loadConfig({ LIMIT_POLICIES: 'service=10/10x' }))).toThrow('exit 1');
    expect(written.join('')).toMatch(/^limiter: Invalid configuration:\n {2}- LIMIT_POLICIES: /);
  } finally {
    write.mockRestore();
    exit.mockRestore();
  }
});
