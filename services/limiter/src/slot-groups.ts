// Redis Cluster runs a script only when all its keys hash to one slot (else CROSSSLOT). A batch
// of decisions is therefore split by slot: one script call per slot, the calls in parallel, and
// each answer put back at its item's place. Keys are `rl:{policy:subject}`, so a (policy,
// subject) pair always has one slot and two items of the same pair stay in one call, in order:
// the exactness of each counter does not depend on the split. On a single Redis there is one
// group (the whole batch, one round trip, as before).
import { FailedPrecondition, keySlot } from '@etu/common';

/**
 * Positions of `keys` grouped by hash slot, each group in the keys' order; groups ordered by
 * their first position. `byOne` false (a single Redis) gives one group of every position.
 */
export function groupBySlot(keys: readonly string[], byOne: boolean): number[][] {
  if (!byOne) return [keys.map((_, i) => i)];
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = keySlot(key);
    const g = groups.get(slot);
    if (g) g.push(i);
    else groups.set(slot, [i]);
  });
  return [...groups.values()];
}

/**
 * A call whose keys must be decided together (one atomic script) spans several cluster slots:
 * FAILED_PRECONDITION for the caller (the request is fine; this deployment cannot decide it).
 */
export class CrossSlotError extends FailedPrecondition {}

/**
 * For a script that must see all its keys at one instant (all or nothing): on a cluster they
 * must share a slot, or the call is refused here with a clear error instead of Redis's CROSSSLOT.
 */
export function assertOneSlot(keys: readonly string[], onCluster: boolean): void {
  if (!onCluster || keys.length < 2) return;
  const first = keySlot(keys[0]!);
  if (keys.some((k) => keySlot(k) !== first)) {
    throw new CrossSlotError(
      `the limits of one all-or-nothing request are in ${new Set(keys.map(keySlot)).size} Redis Cluster slots and cannot be decided atomically: send one descriptor per request, or run the limiter on a single Redis`,
    );
  }
}
