/**
 * The consistency soak (docs/contract.md §9, guarantee 2): two cached BFF instances and a
 * cache-sync process on a fresh database and a throwaway redis-server; readers
 * and writers (through both instances and plain SQL) run concurrently, then,
 * once writes stop and the CDC lag is 0, every cached view on every instance
 * must equal what a CACHE_ENABLED=false instance returns.
 *
 * The redis-server runs with a maxmemory and `volatile-lru` (a supported
 * policy, libs/cache/src/l2/eviction-policy.ts), and bff-b reaches it through
 * a TCP proxy (tools/tcp-proxy.ts), so `--chaos` can hang that instance's
 * connections and put Redis under memory pressure besides the crashes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchDatabase } from '../bench/bench-database';
import { BFF_MAIN, BenchServer, BenchWorker, CACHE_SYNC_MAIN, ROOT, startServer, startWorker } from '../bench/servers';
import { eventually } from '../tools/eventually';
import { RedisServer } from '../tools/redis-server';
import { TcpProxy } from '../tools/tcp-proxy';
import { StaleEntry, ViewResponse, compareView } from './compare';
import { Keys, WRITE_KINDS, WriteKind, Writer, loadKeys, pick, viewPaths } from './workload';

export interface SoakOptions {
  durationSeconds: number;
  /**
   * Mid-run: restart Redis (empty); kill -9 cache-sync and start a new one
   * while bff-b's connections to Redis hang for a few seconds (a partition: the
   * proxy holds the bytes, nothing is closed); then fill Redis with names that
   * have a TTL until it has evicted `evictKeys` names, and delete them.
   */
  chaos: boolean;
  /**
   * The redis-server's maxmemory (default 32mb, or half a MiB per second of run when more): about twice
   * what the soak's own data grows to (about 0.2 MiB/s: 11 MiB after 55 s of a run without chaos).
   */
  maxmemory?: string;
  /** How many evictions (INFO stats evicted_keys) the memory-pressure phase waits for (default 1000). */
  evictKeys?: number;
  readers?: number;
  writers?: number;
  /**
   * The bulk phase (docs/contract.md §6.3): one statement inserts this many products, and once views of
   * them are cached on both instances, one UPDATE changes every product (default 2000; 0 skips it).
   */
  bulkRows?: number;
  log?: (message: string) => void;
  /**
   * Proves the soak can fail: after the writes, one cached product is changed
   * with the CDC triggers disabled (session_replication_role = replica), so no
   * event is ever raised and that entry must be reported stale.
   */
  sabotage?: boolean;
}

export interface SoakSummary {
  durationSeconds: number;
  chaos: boolean;
  /** Writes by kind and channel (`http` through either instance, `sql` outside the BFF), counting only those applied. */
  writes: Record<WriteKind, { http: number; sql: number; rejected: number }>;
  reads: number;
  /** 5xx answers and failed requests during the run (never expected, also not while Redis restarts). */
  errors: string[];
  chaosEvents: string[];
  /** The bulk phase: rows inserted by one statement, views cached before the UPDATE, rows it changed. */
  bulk?: { inserted: number; warmed: number; updated: number };
  /** The hanging partition of bff-b (chaos only). */
  partition?: {
    heldMs: number;
    /** From the hold until bff-b's /health reported redis down. */
    detectedMs: number;
    /** From the release until bff-b's /health reported redis up with L1 on. */
    recoveredMs: number;
  };
  /** The memory-pressure phase (chaos only). */
  eviction?: {
    maxmemory: string;
    /** used_memory when the phase began, before any filler. */
    usedBeforeBytes: number;
    /** Names with a TTL then (INFO keyspace `expires`): the cache's entries of hybrid and ttl buckets, leases. */
    volatileBefore: number;
    fillers: number;
    /** INFO stats evicted_keys during the phase, and the evicted names by kind (keyspace notifications). */
    evicted: number;
    evictedFillers: number;
    /** Names under the cache's prefix (entries with a TTL, leases). */
    evictedCacheNames: number;
  };
  settleMs: number;
  /** Views compared: every view of every cached instance. */
  compared: number;
  stale: number;
  /** The first differences, in full. */
  differences: StaleEntry[];
}

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const log = options.log ?? (() => undefined);
  for (const main of [BFF_MAIN[0], CACHE_SYNC_MAIN[0]]) {
    if (!existsSync(path.join(ROOT, main))) throw new Error(`${main} is missing: npm run build`);
  }
  const maxmemory = options.maxmemory ?? `${Math.max(32, Math.ceil(options.durationSeconds / 2))}mb`;
  const db = await BenchDatabase.create('soak');
  const redisServer = await RedisServer.start({
    args: ['--maxmemory', maxmemory, '--maxmemory-policy', 'volatile-lru'],
  });
  // bff-b reaches Redis through this proxy from the start, so the partition phase can hang its connections.
  const proxy = await TcpProxy.start({ port: redisServer.port });
  const servers: { stop(): Promise<void> }[] = [];
  try {
    const env = {
      ...db.env(),
      REDIS_URL: redisServer.url,
      CDC_RELAY: 'false',
      CDC_SUBSCRIBER: 'false',
      CDC_CLAIM_IDLE_MS: '1000',
    };
    log(
      `database ${db.name}, redis-server on port ${redisServer.port} (maxmemory ${maxmemory}, volatile-lru), ` +
        `proxy for bff-b on port ${proxy.port}, prefix ${db.prefix}`,
    );
    // The first instance migrates and seeds the demo data; the others start on the result.
    const a = await startServer('bff-a', BFF_MAIN, { ...env, NODE_ENV: 'development' });
    servers.push(a);
    const [b, truth] = await Promise.all([
      startServer('bff-b', BFF_MAIN, { ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }),
      startServer('truth', BFF_MAIN, { ...env, CACHE_ENABLED: 'false' }),
    ]);
    servers.push(b, truth);
    let generation = 0;
    const startSync = () =>
      startWorker(
        `cache-sync-${generation}`,
        CACHE_SYNC_MAIN,
        {
          ...env,
          LOG_LEVEL: 'info',
          CDC_RELAY: 'true',
          CDC_SUBSCRIBER: 'true',
          CDC_CONSUMER_NAME: `soak-sync-${generation++}`,
        },
        /cache-sync running/,
      );
    let sync: BenchWorker = await startSync();
    servers.push({ stop: () => sync.stop() });
    log(`bff-a ${a.url}, bff-b ${b.url}, truth ${truth.url}, cache-sync pid ${sync.pid}`);

    const cached: BenchServer[] = [a, b];
    let keys: Keys = await loadKeys(db.pool);
    const writer = new Writer(db.pool, () => keys);
    const summary: SoakSummary = {
      durationSeconds: options.durationSeconds,
      chaos: options.chaos,
      writes: Object.fromEntries(
        WRITE_KINDS.map((k) => [k, { http: 0, sql: 0, rejected: 0 }]),
      ) as SoakSummary['writes'],
      reads: 0,
      errors: [],
      chaosEvents: [],
      settleMs: 0,
      compared: 0,
      stale: 0,
      differences: [],
    };
    const error = (message: string) => {
      if (summary.errors.length < 1000) summary.errors.push(message);
    };

    const startedAt = Date.now();
    const endAt = startedAt + options.durationSeconds * 1000;
    const running = () => Date.now() < endAt;
    let kindIndex = 0;

    const writerLoop = async () => {
      while (running()) {
        // Round-robin over the kinds so each one happens, randomly through bff-a, bff-b or SQL.
        const kind = WRITE_KINDS[kindIndex++ % WRITE_KINDS.length];
        const via = pick(['a', 'b', 'sql'] as const)!;
        const url = via === 'a' ? a.url : via === 'b' ? b.url : undefined;
        try {
          const result = await writer.write(kind, url);
          if (result.outcome === 'ok') summary.writes[kind][url ? 'http' : 'sql']++;
          else if (result.outcome === 'rejected') summary.writes[kind].rejected++;
          else error(`${kind} via ${via}: ${result.detail}`);
        } catch (err) {
          const code = (err as { code?: string }).code;
          // Plain SQL racing another write: integrity errors (a row deleted meanwhile, stock below 0), deadlocks.
          if (code?.startsWith('23') || code?.startsWith('40')) summary.writes[kind].rejected++;
          else error(`${kind} via ${via}: ${(err as Error).message}`);
        }
      }
    };
    const readerLoop = async () => {
      while (running()) {
        const server = pick(cached)!;
        const view = pick(viewPaths(keys))!;
        try {
          const res = await fetch(server.url + view, { signal: AbortSignal.timeout(10_000) });
          const text = await res.text();
          if (res.status >= 500) error(`GET ${view} on ${server.name}: ${res.status} ${text.slice(0, 300)}`);
          summary.reads++;
        } catch (err) {
          error(`GET ${view} on ${server.name}: ${(err as Error).message}`);
        }
      }
    };
    const refreshLoop = async () => {
      while (running()) {
        await sleep(500);
        keys = await loadKeys(db.pool);
      }
    };
    const event = (message: string) => {
      summary.chaosEvents.push(`${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${message}`);
      log(`chaos: ${message}`);
    };
    /** Hangs bff-b's connections to Redis (bytes held in the proxy, nothing closed or refused), then releases them. */
    const partitionPhase = async () => {
      const heldMs = Math.min(5000, Math.max(3000, options.durationSeconds * 100));
      await proxy.hold();
      const heldAt = Date.now();
      event(`bff-b's connections to Redis held for ${heldMs} ms (hung, not closed)`);
      await eventually(async () => (await redisHealth(b.url)).status === 'down', {
        timeoutMs: heldMs + 10_000,
        intervalMs: 100,
        message: "bff-b's /health to report redis down while its connections hang",
      });
      const detectedMs = Date.now() - heldAt;
      event(`bff-b /health: redis down`);
      await sleep(Math.max(0, heldAt + heldMs - Date.now()));
      await proxy.release();
      const releasedAt = Date.now();
      event("bff-b's connections released (the held bytes delivered)");
      await eventually(
        async () => {
          const redis = await redisHealth(b.url);
          return redis.status === 'up' && redis.l1 === 'on';
        },
        { timeoutMs: 30_000, intervalMs: 100, message: "bff-b's /health to report redis up and L1 on again" },
      );
      summary.partition = { heldMs, detectedMs, recoveredMs: Date.now() - releasedAt };
      event('bff-b /health: redis up, L1 on');
    };
    /**
     * Writes filler names with a TTL until Redis has evicted `evictKeys` names
     * (volatile-lru: fillers and the cache's entries with a TTL, never the
     * names without one), keeps it full for a moment while the workload runs,
     * then deletes the fillers.
     */
    const evictionPhase = async () => {
      const target = options.evictKeys ?? 1000;
      const pressureMs = Math.min(3000, Math.max(1000, options.durationSeconds * 50));
      const redis = db.redis(redisServer.url);
      const evictions = db.redis(redisServer.url);
      try {
        let evictedFillers = 0;
        let evictedCacheNames = 0;
        await redis.config('SET', 'notify-keyspace-events', 'Ee');
        evictions.on('message', (_channel: string, name: string) => {
          if (name.startsWith(FILLER)) evictedFillers++;
          else if (name.startsWith(db.prefix)) evictedCacheNames++;
        });
        await evictions.subscribe('__keyevent@0__:evicted');
        const evictedBefore = infoField(await redis.info('stats'), 'evicted_keys');
        const usedBeforeBytes = infoField(await redis.info('memory'), 'used_memory');
        const maxBytes = infoField(await redis.info('memory'), 'maxmemory');
        const volatileBefore = Number(/^db0:.*\bexpires=(\d+)/m.exec(await redis.info('keyspace'))?.[1] ?? 0);
        event(
          `memory pressure: ${mib(usedBeforeBytes)} of maxmemory ${maxmemory} used, ${volatileBefore} names with ` +
            'a TTL; writing fillers with a TTL',
        );
        const value = 'f'.repeat(FILLER_BYTES);
        let fillers = 0;
        let evicted = 0;
        while (evicted < target) {
          // Far more than maxmemory written and still too few evictions: the setting did not take.
          if (fillers * FILLER_BYTES > 4 * maxBytes + target * FILLER_BYTES) {
            throw new Error(
              `wrote ${fillers} fillers but Redis evicted only ${evicted} names (maxmemory ${maxmemory})`,
            );
          }
          const batch = redis.pipeline();
          for (let i = 0; i < 200; i++) batch.set(`${FILLER}${fillers++}`, value, 'PX', 600_000);
          for (const [err] of (await batch.exec()) ?? []) if (err) throw err;
          evicted = infoField(await redis.info('stats'), 'evicted_keys') - evictedBefore;
        }
        event(`Redis full: ${evicted} names evicted after ${fillers} fillers; holding it full for ${pressureMs} ms`);
        await sleep(pressureMs);
        for (let i = 0; i < fillers; i += 1000) {
          await redis.unlink(...Array.from({ length: Math.min(1000, fillers - i) }, (_, j) => `${FILLER}${i + j}`));
        }
        evicted = infoField(await redis.info('stats'), 'evicted_keys') - evictedBefore;
        // A PING answered on the subscriber connection comes after every notification published before it.
        await evictions.ping();
        summary.eviction = {
          maxmemory,
          usedBeforeBytes,
          volatileBefore,
          fillers,
          evicted,
          evictedFillers,
          evictedCacheNames,
        };
        event(
          `fillers deleted: ${evicted} names evicted in all, ${evictedCacheNames} of them the cache's ` +
            `(${evictedFillers} fillers); ${mib(infoField(await redis.info('memory'), 'used_memory'))} used`,
        );
      } finally {
        redis.disconnect();
        evictions.disconnect();
      }
    };
    /**
     * One INSERT … SELECT of `bulkRows` products, then, with the listings and a sample of them cached on both
     * instances, one UPDATE of every product while the workload goes on: bulk changes must leave nothing stale.
     */
    const bulkPhase = async () => {
      const rows = options.bulkRows ?? 2000;
      if (rows === 0) return;
      await sleep(Math.max(0, startedAt + options.durationSeconds * 1000 * 0.3 - Date.now()));
      const categories = (await db.pool.query<{ id: string }>('SELECT id FROM catalog.categories')).rows;
      const { rowCount: inserted } = await db.pool.query(
        `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
         SELECT $1 || '-' || g, 'Bulk product ' || g, 100, 'EUR', ($3::uuid[])[1 + g % $4::int]
           FROM generate_series(1, $2::int) g`,
        [`SOAK${Date.now()}`, rows, categories.map((c) => c.id), categories.length],
      );
      log(`bulk: one INSERT of ${inserted} products`);
      await waitForCdc(db, a.url, 60_000);
      keys = await loadKeys(db.pool);
      const views = viewPaths(keys);
      const warm = [
        ...views.filter((v) => !v.startsWith('/catalog/products/')),
        ...views.filter((v) => v.startsWith('/catalog/products/')).slice(-500),
      ];
      await forEachLimit(warm, 16, async (view) => {
        for (const server of cached) await get(server.url, view);
      });
      const { rowCount: updated } = await db.pool.query('UPDATE catalog.products SET price_cents = price_cents + 1');
      summary.bulk = { inserted: inserted ?? 0, warmed: warm.length, updated: updated ?? 0 };
      log(`bulk: ${warm.length} views cached on both instances, then one UPDATE of ${updated} products`);
    };
    const chaosLoop = async () => {
      if (!options.chaos) return;
      // One phase after the other; a phase whose time has passed starts when the previous one ends. The Redis
      // restart comes first: it empties every cache, so it would erase staleness any earlier phase had caused.
      const at = (fraction: number) =>
        sleep(Math.max(0, startedAt + options.durationSeconds * 1000 * fraction - Date.now()));
      await at(0.1);
      await redisServer.stop();
      event('redis-server killed');
      await sleep(1000);
      await redisServer.start();
      event('redis-server restarted (empty)');
      await at(0.25);
      // bff-b runs no relay or subscriber, so its partition and the cache-sync crash are independent: both at once.
      await Promise.all([
        (async () => {
          const killed = sync.pid;
          await sync.kill();
          event(`kill -9 cache-sync (pid ${killed})`);
          await sleep(500);
          sync = await startSync();
          event(`started a new cache-sync (pid ${sync.pid})`);
        })(),
        partitionPhase(),
      ]);
      // Early enough that writes after it reach what a lost name would have hidden.
      await at(0.55);
      await evictionPhase();
    };
    const progressLoop = async () => {
      while (running()) {
        await sleep(Math.min(5000, Math.max(1000, endAt - Date.now())));
        const writes = Object.values(summary.writes).reduce((n, w) => n + w.http + w.sql, 0);
        log(
          `${Math.round((Date.now() - startedAt) / 1000)} s: ${writes} writes, ${summary.reads} reads, ${summary.errors.length} errors, ${keys.products.length} products, ${keys.orders.length} orders`,
        );
      }
    };

    log(`running ${options.durationSeconds} s${options.chaos ? ' with chaos' : ''}`);
    await Promise.all([
      ...Array.from({ length: options.writers ?? 6 }, writerLoop),
      ...Array.from({ length: options.readers ?? 12 }, readerLoop),
      refreshLoop(),
      bulkPhase(),
      chaosLoop(),
      progressLoop(),
    ]);

    if (options.sabotage) {
      const product = keys.products[0];
      await Promise.all(cached.map((server) => get(server.url, `/catalog/products/${product}`)));
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL session_replication_role = replica`);
        await client.query(`UPDATE catalog.products SET name = name || ' (no event)' WHERE id = $1`, [product]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      log(`sabotage: product ${product} changed without a CDC event`);
    }

    log('writes stopped, waiting for the CDC lag to reach 0');
    const settleStart = Date.now();
    await waitForCdc(db, a.url, 60_000);
    summary.settleMs = Date.now() - settleStart;
    log(`CDC settled in ${summary.settleMs} ms, comparing`);

    keys = await loadKeys(db.pool);
    const paths = viewPaths(keys);
    await forEachLimit(paths, 16, async (view) => {
      const source = await get(truth.url, view);
      for (const server of cached) {
        const diff = compareView(server.name, view, await get(server.url, view), source);
        summary.compared++;
        if (diff) {
          summary.stale++;
          if (summary.differences.length < 10) summary.differences.push(diff);
        }
      }
    });
    return summary;
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await proxy.close();
    await redisServer.close();
    await db.drop();
  }
}

/** Names the memory-pressure phase writes (outside the cache's prefix) and the size of each value. */
const FILLER = 'soak-filler:';
const FILLER_BYTES = 32 * 1024;

/** A numeric field of an INFO section (`evicted_keys`, `used_memory`, `maxmemory`). */
function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  if (!match) throw new Error(`INFO has no ${field}`);
  return Number(match[1]);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The `redis` indicator of an instance's /health (`l1` is reported while Redis is up). */
async function redisHealth(url: string): Promise<{ status?: string; l1?: string }> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
  const report = (await res.json()) as { details?: { redis?: { status?: string; l1?: string } } };
  return report.details?.redis ?? {};
}

async function get(url: string, view: string): Promise<ViewResponse> {
  const res = await fetch(url + view, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // compared as text
  }
  return { status: res.status, body, xCache: res.headers.get('x-cache') };
}

interface CdcHealth {
  relay: { backlog: number };
  streams: Record<string, { lag: number | null; pending: number }>;
}

/**
 * test/harness/cdc.ts `waitForCdc` over HTTP: no unpublished outbox row (read
 * first, from Postgres), then every stream's group without lag or pending
 * entries (/health/cdc, read after, so a row published between the two reads
 * is already in its stream).
 */
async function waitForCdc(db: BenchDatabase, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const { rows } = await db.pool.query<{ backlog: number }>(
        `SELECT count(*)::int AS backlog FROM cdc.outbox WHERE published_at IS NULL`,
      );
      const res = await fetch(`${url}/health/cdc`, { signal: AbortSignal.timeout(5000) });
      const report = (await res.json()) as CdcHealth;
      const streams = Object.values(report.streams ?? {});
      if (
        rows[0].backlog === 0 &&
        report.relay?.backlog === 0 &&
        streams.length > 0 &&
        streams.every((s) => s.lag === 0 && s.pending === 0)
      ) {
        return;
      }
      last = JSON.stringify({ backlog: rows[0].backlog, relay: report.relay, streams: report.streams });
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`CDC did not settle within ${timeoutMs} ms: ${last}`);
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
