// A batch's split by Redis Cluster slot: every position once, each group in the items' order,
// and items of the same (policy, subject) always in one group.
import { keySlot } from '@etu/common';
import { keyFor } from '../src/sliding-window';
import { assertOneSlot, CrossSlotError, groupBySlot } from '../src/slot-groups';

test('a single Redis: one group, the whole batch in order', () => {
  expect(groupBySlot(['a', 'b', 'c'], false)).toEqual([[0, 1, 2]]);
});

test('a cluster: one group per slot, each in order, every position exactly once', () => {
  const keys = Array.from({ length: 300 }, (_, i) => keyFor('service', `u${i % 120}`));
  const groups = groupBySlot(keys, true);
  expect(groups.flat().sort((a, b) => a - b)).toEqual(keys.map((_, i) => i));
  for (const g of groups) {
    expect(new Set(g.map((i) => keySlot(keys[i]!))).size).toBe(1);
    expect([...g].sort((a, b) => a - b)).toEqual(g);
  }
  expect(new Set(groups.map((g) => keySlot(keys[g[0]!]!))).size).toBe(groups.length);
  // u0 appears at 0, 120 and 240: one group, in that order
  expect(groups.find((g) => g.includes(0))).toEqual(expect.arrayContaining([0, 120, 240]));
});

test('an atomic multi-key call on a cluster: one slot, or a clear refusal', () => {
  expect(() => assertOneSlot([keyFor('service', 'a'), keyFor('service', 'b')], false)).not.toThrow();
  expect(() => assertOneSlot(['rl:{t}:a', 'rl:{t}:b'], true)).not.toThrow();
  expect(() => assertOneSlot([keyFor('service', 'a'), keyFor('service', 'b')], true)).toThrow(CrossSlotError);
  expect(() => assertOneSlot([keyFor('service', 'a'), keyFor('service', 'b')], true)).toThrow(/2 Redis Cluster slots/);
});
