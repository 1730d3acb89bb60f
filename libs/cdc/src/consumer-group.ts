import type { Redis } from 'ioredis';

/**
 * `XINFO GROUPS <stream>`'s entry for `group` as a record (`name`, `pending`, `last-delivered-id`, `lag`, …);
 * undefined when the stream or the group does not exist. Other errors are thrown.
 */
export async function consumerGroup(
  redis: Pick<Redis, 'xinfo'>,
  stream: string,
  group: string,
): Promise<Record<string, unknown> | undefined> {
  let groups: unknown[][];
  try {
    groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch (err) {
    if (/no such key/i.test(String((err as Error).message))) return undefined;
    throw err;
  }
  return groups.map(toRecord).find((g) => g.name === group);
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < flat.length - 1; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
