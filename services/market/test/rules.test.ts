// Pure pieces: the page token codec and the driver-rejection classifier (no database).
import { decodeCursor, encodeCursor } from '../src/cursor';
import { isOrphanedConnectionFailure } from '@etu/db';
import { parseId } from '../src/rules';
import { codePoints } from '@etu/common';

describe('page tokens', () => {
  test('round-trip a position, including a shared millisecond', () => {
    for (const c of [
      { createdAt: new Date(0), id: 1 },
      { createdAt: new Date('2026-11-26T09:00:00.123Z'), id: 42 },
      { createdAt: new Date(8.64e15), id: 2_147_483_647 },
    ]) {
      const t = encodeCursor(c);
      expect(t).toMatch(/^[\w-]+$/);
      expect(decodeCursor(t)).toEqual(c);
    }
  });

  test.each([
    ['empty-looking garbage', '!!!'],
    ['padding', `${encodeCursor({ createdAt: new Date(5), id: 7 })}=`],
    ['not base64url of ms:id', Buffer.from('hello').toString('base64url')],
    ['negative time', Buffer.from('-5:7').toString('base64url')],
    ['id 0', Buffer.from('5:0').toString('base64url')],
    ['id past INT', Buffer.from('5:2147483648').toString('base64url')],
    ['leading zeros', Buffer.from('05:7').toString('base64url')],
    ['extra part', Buffer.from('5:7:9').toString('base64url')],
    ['too long', 'A'.repeat(100)],
  ])('refuses %s with INVALID_ARGUMENT naming page_token', (_label, token) => {
    expect(() => decodeCursor(token)).toThrow(expect.objectContaining({ code: 3, field: 'page_token' }));
  });
});

test('ids are positive decimal INTs; lengths count code points', () => {
  expect(parseId('id', '2147483647')).toBe(2_147_483_647);
  expect(() => parseId('id', '2147483648')).toThrow(/^id: /);
  expect(codePoints('a😀é')).toBe(3);
});

test('only the mariadb driver’s orphaned connection failure is classified as ignorable', () => {
  const orphan = Object.assign(new Error("setting timezone '+00:00' fails on server."), {
    name: 'SqlError',
    fatal: true,
    sqlState: '08S01',
  });
  expect(isOrphanedConnectionFailure(orphan)).toBe(true);
  // The same orphaned promise when the link drops during SET time_zone (not fatal, errno 45033).
  expect(
    isOrphanedConnectionFailure(Object.assign(new Error('time zone'), { name: 'SqlError', fatal: false, errno: 45033, sqlState: 'HY000' })),
  ).toBe(true);
  expect(isOrphanedConnectionFailure(Object.assign(new Error('syntax'), { name: 'SqlError', fatal: false, sqlState: '42000' }))).toBe(
    false,
  );
  expect(isOrphanedConnectionFailure(new TypeError('bug'))).toBe(false);
  expect(isOrphanedConnectionFailure(undefined)).toBe(false);
});
