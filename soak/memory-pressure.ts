import { setTimeout as sleep } from 'node:timers/promises';
import Redis, { Cluster } from 'ioredis';

/** Names the memory-pressure phase writes (outside the cache's prefix) and the size of each value. */
const FILLER = 'soak-filler:';
const FILLER_BYTES = 32 * 1024;

export interface MemoryPressureOptions {
  /**
   * The servers that evict: the one redis-server, or every master of a cluster. Eviction, its counter
   * (INFO stats evicted_keys) and its keyspace notifications are each node's own, so each is asked directly.
   */
  masters: { host: string; port: number }[];
  /** Writes and deletes the fillers: a client of the one server, or a cluster client that spreads them over the masters. */
  writer: Redis | Cluster;
  /** The cache's prefix, to tell its evicted names from the fillers. */
  prefix: string;
  /** The maxmemory setting, as given to the server(s), for the report. */
  maxmemory: string;
  /** Evictions (summed over the masters) to wait for; every master must evict at least one. */
  target: number;
  /** How long to keep the servers full while the workload runs. */
  pressureMs: number;
  event: (message: string) => void;
}

export interface EvictionSummary {
  /** The maxmemory of each server (each master of a cluster). */
  maxmemory: string;
  /** used_memory when the phase began, before any filler (summed over the masters). */
  usedBeforeBytes: number;
  /** Names with a TTL then (INFO keyspace `expires`): the cache's entries of hybrid and ttl buckets, leases. */
  volatileBefore: number;
  fillers: number;
  /** INFO stats evicted_keys during the phase, and the evicted names by kind (keyspace notifications). */
  evicted: number;
  evictedFillers: number;
  /** Names under the cache's prefix (entries with a TTL, leases). */
  evictedCacheNames: number;
  /** Evictions by master (port), in the order given: a cluster's masters evict each on its own. */
  byMaster: { port: number; evicted: number }[];
}

/**
 * Writes filler names with a TTL until the servers have evicted `target` names, every master some
 * (volatile-lru: fillers and the cache's entries with a TTL, never the names without one), keeps them full
 * for a moment while the workload runs, then deletes the fillers.
 */
export async function applyMemoryPressure(options: MemoryPressureOptions): Promise<EvictionSummary> {
  const { writer, prefix, target, event } = options;
  const masters = options.masters.map((node) => ({
    port: node.port,
    commands: new Redis({ host: node.host, port: node.port }),
    notifications: new Redis({ host: node.host, port: node.port }),
  }));
  try {
    let evictedFillers = 0;
    let evictedCacheNames = 0;
    const evictedBefore = new Map<number, number>();
    let usedBeforeBytes = 0;
    let maxBytes = 0;
    let volatileBefore = 0;
    for (const master of masters) {
      await master.commands.config('SET', 'notify-keyspace-events', 'Ee');
      master.notifications.on('message', (_channel: string, name: string) => {
        if (name.startsWith(FILLER)) evictedFillers++;
        else if (name.startsWith(prefix)) evictedCacheNames++;
      });
      await master.notifications.subscribe('__keyevent@0__:evicted');
      evictedBefore.set(master.port, infoField(await master.commands.info('stats'), 'evicted_keys'));
      const memory = await master.commands.info('memory');
      usedBeforeBytes += infoField(memory, 'used_memory');
      maxBytes += infoField(memory, 'maxmemory');
      volatileBefore += Number(/^db0:.*\bexpires=(\d+)/m.exec(await master.commands.info('keyspace'))?.[1] ?? 0);
    }
    const evictions = async () =>
      Promise.all(
        masters.map(async (m) => ({
          port: m.port,
          evicted: infoField(await m.commands.info('stats'), 'evicted_keys') - evictedBefore.get(m.port)!,
        })),
      );
    const total = (byMaster: { evicted: number }[]) => byMaster.reduce((n, m) => n + m.evicted, 0);
    const where = masters.length === 1 ? 'Redis' : `${masters.length} masters`;
    event(
      `memory pressure: ${mib(usedBeforeBytes)} used on ${where} (maxmemory ${options.maxmemory}` +
        `${masters.length === 1 ? '' : ' each'}), ${volatileBefore} names with a TTL; writing fillers with a TTL`,
    );
    const value = 'f'.repeat(FILLER_BYTES);
    let fillers = 0;
    let byMaster = await evictions();
    while (total(byMaster) < target || byMaster.some((m) => m.evicted === 0)) {
      // Far more than maxmemory written and still too few evictions: the setting did not take.
      if (fillers * FILLER_BYTES > 4 * maxBytes + target * FILLER_BYTES) {
        throw new Error(
          `wrote ${fillers} fillers but evictions stayed at ${JSON.stringify(byMaster)} (maxmemory ${options.maxmemory})`,
        );
      }
      // One SET per name (a cluster client sends each to its master), 200 in flight.
      await Promise.all(Array.from({ length: 200 }, () => writer.set(`${FILLER}${fillers++}`, value, 'PX', 600_000)));
      byMaster = await evictions();
    }
    event(
      `${where} full: ${total(byMaster)} names evicted after ${fillers} fillers; holding ${masters.length === 1 ? 'it' : 'them'} ` +
        `full for ${options.pressureMs} ms`,
    );
    await sleep(options.pressureMs);
    for (let i = 0; i < fillers; i += 1000) {
      const names = Array.from({ length: Math.min(1000, fillers - i) }, (_, j) => `${FILLER}${i + j}`);
      await Promise.all(names.map((name) => writer.unlink(name)));
    }
    byMaster = await evictions();
    // A PING answered on a subscriber connection comes after every notification published before it.
    await Promise.all(masters.map((m) => m.notifications.ping()));
    let usedAfterBytes = 0;
    for (const master of masters) usedAfterBytes += infoField(await master.commands.info('memory'), 'used_memory');
    const summary: EvictionSummary = {
      maxmemory: options.maxmemory,
      usedBeforeBytes,
      volatileBefore,
      fillers,
      evicted: total(byMaster),
      evictedFillers,
      evictedCacheNames,
      byMaster,
    };
    event(
      `fillers deleted: ${summary.evicted} names evicted in all${masters.length === 1 ? '' : ` (${byMaster.map((m) => `${m.evicted} on ${m.port}`).join(', ')})`}, ` +
        `${evictedCacheNames} of them the cache's (${evictedFillers} fillers); ${mib(usedAfterBytes)} used`,
    );
    return summary;
  } finally {
    for (const master of masters) {
      master.commands.disconnect();
      master.notifications.disconnect();
    }
  }
}

/** A numeric field of an INFO section (`evicted_keys`, `used_memory`, `maxmemory`). */
function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  if (!match) throw new Error(`INFO has no ${field}`);
  return Number(match[1]);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
