// Device cookies: signed, bound to one account, rotatable with SESSION_KEYS, nothing secret inside.
import { accountSubject, accountTag, DEVICE_MAX_AGE_MS, issueDeviceToken, readDeviceToken, trustedDevice } from '../src/lib/device-cookie';

const OLD = 'old-session-key-0123456789abcdef';
const NEW = 'new-session-key-0123456789abcdef';
const EMAIL = 'camille.martin@etu.example';

test('a token opens the account it was issued for, and no other', () => {
  const t = issueDeviceToken([OLD], EMAIL);
  expect(trustedDevice([OLD], t, EMAIL)).toMatchObject({ accountTag: accountTag(EMAIL), nonce: expect.stringMatching(/^[\w-]{22}$/) });
  expect(trustedDevice([OLD], t, 'autre.compte@etu.example')).toBeUndefined();
});

test('the value holds neither the email nor a key, and two logins give two devices', () => {
  const a = issueDeviceToken([OLD], EMAIL);
  const b = issueDeviceToken([OLD], EMAIL);
  for (const secretish of ['camille', 'etu.example', OLD, Buffer.from(OLD).toString('base64url')]) expect(a).not.toContain(secretish);
  expect(readDeviceToken([OLD], a)!.nonce).not.toBe(readDeviceToken([OLD], b)!.nonce);
});

test('rotation: signed with the first key, verified with every key; a dropped key stops verifying', () => {
  const before = issueDeviceToken([OLD], EMAIL);
  expect(trustedDevice([NEW, OLD], before, EMAIL)).toBeDefined();
  const after = issueDeviceToken([NEW, OLD], EMAIL);
  expect(trustedDevice([NEW], after, EMAIL)).toBeDefined();
  expect(trustedDevice([NEW], before, EMAIL)).toBeUndefined();
});

test('forged, altered, expired or oversized values are ignored', () => {
  const t = issueDeviceToken([OLD], EMAIL);
  const parts = t.split('.');
  const other = issueDeviceToken([OLD], 'autre.compte@etu.example').split('.');
  const swapped = [parts[0], other[1], parts[2], parts[3], parts[4]].join('.');
  for (const bad of [
    undefined,
    '',
    'x',
    swapped,
    `${t}x`,
    [...parts.slice(0, -1), (parts.at(-1)![0] === 'A' ? 'B' : 'A') + parts.at(-1)!.slice(1)].join('.'),
    issueDeviceToken(['attacker-key-0123456789abcdef'], EMAIL),
    `${t}.${'a'.repeat(300)}`,
  ]) {
    expect(trustedDevice([OLD], bad, EMAIL)).toBeUndefined();
  }
  const old = issueDeviceToken([OLD], EMAIL, Date.now() - DEVICE_MAX_AGE_MS - 1000);
  expect(trustedDevice([OLD], old, EMAIL)).toBeUndefined();
});

test('the account budget subject depends on the key and the email, and contains neither', () => {
  const s = accountSubject([OLD], EMAIL);
  expect(s).toMatch(/^[\w-]{32}$/);
  expect(accountSubject([OLD], EMAIL)).toBe(s);
  expect(accountSubject([NEW], EMAIL)).not.toBe(s);
  expect(accountSubject([OLD], 'autre.compte@etu.example')).not.toBe(s);
});
