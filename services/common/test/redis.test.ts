// Which Redis errors mean "the store cannot serve right now" (→ UNAVAILABLE) and which are bugs.
import { isRedisUnavailable } from '@etu/common';

test.each([
  ['Command timed out'],
  ["Stream isn't writeable and enableOfflineQueue options is false"],
  ['Connection is closed.'],
  ['connect ECONNREFUSED 127.0.0.1:6390'],
  ['LOADING Redis is loading the dataset in memory'],
  ["OOM command not allowed when used memory > 'maxmemory'."],
  ["READONLY You can't write against a read only replica."],
])('%s → unavailable', (message) => {
  expect(isRedisUnavailable(new Error(message))).toBe(true);
});

test.each([
  ['ERR wrong number of arguments'],
  ['WRONGTYPE Operation against a key holding the wrong kind of value'],
  ['NOSCRIPT No matching script'],
])('%s → not unavailable (a bug to surface)', (message) => {
  expect(isRedisUnavailable(new Error(message))).toBe(false);
});
