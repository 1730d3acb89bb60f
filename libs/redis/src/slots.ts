import calculateSlot from 'cluster-key-slot';

/**
 * Names grouped by hash slot, each group in the given order: what one
 * multi-key command or script call may carry on Redis Cluster.
 */
export function groupBySlot(names: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const name of names) {
    const slot = calculateSlot(name);
    const group = groups.get(slot);
    if (group) group.push(name);
    else groups.set(slot, [name]);
  }
  return [...groups.values()];
}

export { calculateSlot };
