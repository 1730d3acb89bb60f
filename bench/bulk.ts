/**
 * The `bulk` scenario (docs/contract.md §10): one statement changes `rows` cached products; how long from its
 * commit until every affected key is gone from L2 and from every instance's L1, and what happens
 * meanwhile to the invalidation lag of single-row writes made by someone else.
 *
 * Run inside `npm run bench` (after the lag and coalescing scenarios, on the same two BFFs), or on
 * its own against the built apps:
 *
 *   npm run build && node -r ts-node/register/transpile-only bench/bulk.ts [--rows 100000] [--warm 5000]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { BenchDatabase } from './bench-database';
import { PendingWrites } from './invalidation-lag';
import { percentiles } from './percentiles';
import { BenchServer, BFF_MAIN, startServer } from './servers';

export interface BulkOptions {
  db: BenchDatabase;
  /** Two BFF instances (relay and subscriber on, the defaults) on `db`. */
  instances: BenchServer[];
  /** Products the one statement changes. */
  rows: number;
  /** Products cached on every instance before the statement, spread over the changed ones (listings are all cached). */
  warmProducts: number;
  /** Products outside the bulk, for the single-row writer. */
  singleRowIds: string[];
  singleRowWritesPerSecond: number;
  /** How long the single-row writer runs before the statement and after the last key is gone. */
  singleRowSeconds: number;
  log: (message: string) => void;
}

type Percentiles = { p50: number; p99: number; max: number };

export interface BulkResult {
  rows: number;
  categories: number;
  instances: number;
  /** What was cached on every instance before the statement. */
  warmed: { products: number; listings: number };
  /** The seed: one INSERT … SELECT of `rows` products, commit → every insert event applied (one instance's health). */
  seedDrainMs: number;
  /** The UPDATE itself (capture triggers included), sent → committed. */
  statementMs: number;
  /** The statement's last captured outbox row → the last of them published to the stream (database clock). */
  relayMs: number;
  /** Commit → the first affected key published as dropped. */
  firstKeyMs: number;
  /** Commit → the last affected key (every changed product and every listing) dropped from L2 and published to every L1. */
  commitToGoneMs: number;
  eventsPerSecond: number;
  /** After the drain: warmed products still in L2, and reads of them that were L1 hits on any instance. */
  leftCached: { l2: number; hits: number };
  /** CPU seconds each part used while the statement ran, and from its commit until the last key was gone. */
  cpuSeconds: { statement: Record<string, number>; drain: Record<string, number> };
  /**
   * UPDATE sent → key gone, for single-row writes sent before the statement, while it runs (they commit and are
   * published ahead of it), from its commit until the bulk is gone (behind it), and right after.
   */
  singleRowMs: {
    before: Percentiles;
    statement: Percentiles;
    drain: Percentiles;
    after: Percentiles;
    counts: Record<string, number>;
  };
}

interface CdcHealth {
  relay: { backlog: number };
  streams: Record<string, { lag: number | null; pending: number }>;
}

const PRODUCT = 'catalog:product:';

/** CPU seconds (user + system) a process has used so far, from /proc; 0 where it cannot be read. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** The pids of every running process whose command is `name` (Postgres runs one per connection). */
function pidsOf(name: string): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds so far of the BFF instances, Redis and Postgres (the relay's backends, autovacuum, the rest):
 * what the machine's cores were spent on.
 */
async function cpuNow(db: BenchDatabase, instances: BenchServer[]): Promise<Record<string, number>> {
  const redis = db.redis();
  const info = await redis.info('server');
  redis.disconnect();
  const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
  const { rows } = await db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'cachegate-relay%'`,
  );
  const relay = new Set(rows.map((r) => r.pid));
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const postgres = pidsOf('postgres');
  const sum = (pids: number[]) => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
  const autovacuum = postgres.filter((pid) => cmdline(pid).includes('autovacuum'));
  return {
    bff: instances.reduce((total, i) => total + cpuSeconds(i.pid), 0),
    redis: cpuSeconds(redisPid),
    postgresRelay: sum(postgres.filter((pid) => relay.has(pid))),
    postgresAutovacuum: sum(autovacuum),
    postgresOther: sum(postgres.filter((pid) => !relay.has(pid) && !autovacuum.includes(pid))),
    bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  };
}

/** Until the outbox is published and every stream's group has nothing left to deliver or acknowledge. */
async function settled(instance: BenchServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = (await (await fetch(`${instance.url}/health/cdc`)).json()) as CdcHealth;
    const quiet = Object.values(health.streams).every((s) => (s.lag ?? 0) === 0 && s.pending === 0);
    if (health.relay.backlog === 0 && quiet) return;
    if (Date.now() > deadline) throw new Error(`bulk: CDC did not settle: ${JSON.stringify(health)}`);
    await sleep(20);
  }
}

/** GETs every path on the instance with `concurrency` requests in flight; returns the X-Cache answers. */
async function readAll(instance: BenchServer, paths: string[], concurrency = 32): Promise<string[]> {
  const answers: string[] = new Array(paths.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length) {
        const i = next++;
        const res = await fetch(instance.url + paths[i]);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`bulk: GET ${paths[i]} answered ${res.status}`);
        answers[i] = res.headers.get('x-cache') ?? '';
      }
    }),
  );
  return answers;
}

export async function measureBulk(options: BulkOptions): Promise<BulkResult> {
  const { db, instances, rows } = options;
  const categories = Math.max(1, Math.round(rows / 1000));
  const tag = `b${Date.now().toString(36)}`;

  options.log(`bulk: seeding ${rows} products in ${categories} categories (one INSERT … SELECT)`);
  const { rows: cats } = await db.pool.query<{ id: string; slug: string }>(
    `INSERT INTO catalog.categories (slug, name)
     SELECT $1 || '-' || g, 'Bulk ' || g FROM generate_series(1, $2::int) g RETURNING id, slug`,
    [tag, categories],
  );
  await db.pool.query(
    `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
     SELECT upper($1) || '-' || g, 'Bulk product ' || lpad(g::text, 7, '0'), 100, 'EUR', ($3::uuid[])[1 + g % $4::int]
       FROM generate_series(1, $2::int) g`,
    [tag, rows, cats.map((c) => c.id), categories],
  );
  const seeded = performance.now();
  await settled(instances[0], 600_000);
  const seedDrainMs = performance.now() - seeded;
  options.log(`bulk: the seed's ${rows + categories} insert events applied in ${seedDrainMs.toFixed(0)} ms`);

  const { rows: products } = await db.pool.query<{ id: string }>(
    `SELECT id FROM catalog.products WHERE sku LIKE upper($1) || '-%' ORDER BY id`,
    [tag],
  );
  const step = Math.max(1, Math.floor(products.length / Math.min(options.warmProducts, products.length)));
  const sample = products.filter((_, i) => i % step === 0).slice(0, options.warmProducts);
  const listings = cats.map((c) => `/catalog/categories/${c.slug}/products`);
  const warmPaths = [...listings, ...sample.map((p) => `/catalog/products/${p.id}`)];
  options.log(
    `bulk: caching ${listings.length} listings and ${sample.length} products on ${instances.length} instances`,
  );
  for (const instance of instances) {
    await readAll(instance, warmPaths);
    const again = await readAll(instance, warmPaths);
    const cold = again.filter((c) => c !== 'HIT-L1').length;
    if (cold > 0) throw new Error(`bulk: ${cold} warmed views were not L1 hits on ${instance.name}`);
  }

  // Every key the statement must drop: each changed product and each listing (they hold the products).
  const expected = new Set([...products.map((p) => PRODUCT + p.id), ...cats.map((c) => `catalog:listing:${c.slug}`)]);
  const singles = new PendingWrites();
  const singleSamples: { sent: number; lag: number }[] = [];
  let commit = Infinity;
  let first = Infinity;
  let gone = Infinity;
  const subscriber = db.redis();
  await subscriber.subscribe(`${db.prefix}cache:invalidations`);
  subscriber.on('message', (_channel: string, text: string) => {
    const now = performance.now();
    for (const key of (JSON.parse(text) as { keys?: string[] }).keys ?? []) {
      // Keys dropped before the commit cannot be this statement's.
      if (now > commit && expected.delete(key)) {
        first = Math.min(first, now);
        if (expected.size === 0) gone = now;
      }
      if (key.startsWith(PRODUCT)) {
        for (const { sent } of singles.dropped(key.slice(PRODUCT.length), now))
          singleSamples.push({ sent, lag: now - sent });
      }
    }
  });

  // The single-row writer: paced plain-SQL UPDATEs of products outside the bulk, before, during and after it. Its
  // own pool, large enough that an UPDATE is sent when it is due, also while Postgres is busy with the bulk
  // (lag counts from then, as in the lag scenario: a slow commit is part of it, a wait for a connection is not).
  const writerPool = new Pool({ connectionString: db.url, max: 48 });
  // Its first connections opened before it starts: a connection's start-up is no part of any write's lag.
  const opened = await Promise.all(Array.from({ length: 16 }, () => writerPool.connect()));
  for (const client of opened) client.release();
  let writing = true;
  let writes = 0;
  const inFlight: Promise<unknown>[] = [];
  const writer = (async () => {
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((options.singleRowWritesPerSecond * tickMs) / 1000));
    let next = performance.now();
    while (writing) {
      for (let i = 0; i < perTick; i++) {
        const id = options.singleRowIds[writes++ % options.singleRowIds.length];
        const write = singles.sent(id);
        inFlight.push(
          writerPool
            .query('UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1', [id])
            .then(() => singles.committed(write)),
        );
      }
      next += tickMs;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  let statementMs: number;
  let sent: number;
  let outboxMark: string;
  const cpu: BulkResult['cpuSeconds'] = { statement: {}, drain: {} };
  try {
    await sleep(options.singleRowSeconds * 1000);
    options.log(`bulk: one UPDATE of ${rows} products (single-row writes at ${options.singleRowWritesPerSecond}/s)`);
    const [{ mark }] = (await db.pool.query<{ mark: string }>(`SELECT coalesce(max(id), 0) AS mark FROM cdc.outbox`))
      .rows;
    outboxMark = mark;
    const cpuBefore = await cpuNow(db, instances);
    sent = performance.now();
    await db.pool.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE sku LIKE upper($1) || '-%'`, [
      tag,
    ]);
    commit = performance.now();
    statementMs = commit - sent;
    const cpuAtCommit = await cpuNow(db, instances);
    const deadline = commit + 120_000;
    while (gone === Infinity && performance.now() < deadline) await sleep(5);
    if (gone === Infinity) throw new Error(`bulk: ${expected.size} affected keys never dropped within 120 s`);
    const cpuAfter = await cpuNow(db, instances);
    const round = (n: number) => Math.round(n * 100) / 100;
    for (const [k, v] of Object.entries(cpuAfter)) {
      cpu.statement[k] = round(cpuAtCommit[k] - (cpuBefore[k] ?? 0));
      cpu.drain[k] = round(v - (cpuAtCommit[k] ?? 0));
    }
    await sleep(options.singleRowSeconds * 1000);
  } finally {
    writing = false;
    await writer;
    await Promise.all(inFlight);
    await writerPool.end();
  }
  // The writer's last invalidations.
  const drainUntil = Date.now() + 5000;
  while (singleSamples.length < writes && Date.now() < drainUntil) await sleep(20);
  subscriber.disconnect();

  // Nothing of the warmed sample may be left: not in L2, and not in any instance's L1 (a read must miss).
  const l2 = await countInL2(db, sample);
  // (The first instance's misses fill L2 again, so the second one may hit L2; an L1 hit would be a stale copy.)
  let hits = 0;
  for (const instance of instances) {
    hits += (
      await readAll(
        instance,
        sample.map((p) => `/catalog/products/${p.id}`),
      )
    ).filter((c) => c === 'HIT-L1').length;
  }

  // The relay's share, by the database's clock: the statement's last captured row → the last of its rows published.
  const { rows: relay } = await db.pool.query<{ ms: number }>(
    `SELECT round(extract(epoch FROM max(published_at) - max(occurred_at)) * 1000)::float8 AS ms
       FROM cdc.outbox WHERE id > $1 AND source = 'postgres:catalog.products' AND aggregate_id <> ALL($2::text[])`,
    [outboxMark, options.singleRowIds],
  );
  const commitToGoneMs = gone - commit;
  const phase = (from: number, to: number) =>
    singleSamples.filter((s) => s.sent >= from && s.sent < to).map((s) => s.lag);
  const before = phase(0, sent);
  const statement = phase(sent, commit);
  const drain = phase(commit, gone);
  const after = phase(gone, Infinity);
  const result: BulkResult = {
    rows,
    categories,
    instances: instances.length,
    warmed: { products: sample.length, listings: listings.length },
    seedDrainMs: Math.round(seedDrainMs),
    statementMs: Math.round(statementMs),
    relayMs: relay[0].ms,
    firstKeyMs: Math.round(first - commit),
    commitToGoneMs: Math.round(commitToGoneMs),
    eventsPerSecond: Math.round(rows / (commitToGoneMs / 1000)),
    leftCached: { l2, hits },
    cpuSeconds: cpu,
    singleRowMs: {
      before: percentiles(before),
      statement: percentiles(statement),
      drain: percentiles(drain),
      after: percentiles(after),
      counts: {
        writes,
        observed: singleSamples.length,
        before: before.length,
        statement: statement.length,
        drain: drain.length,
        after: after.length,
      },
    },
  };
  const p = (s: Percentiles) => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms`;
  options.log(
    `bulk: ${rows} rows gone from L2 and every L1 ${result.commitToGoneMs} ms after commit ` +
      `(${result.eventsPerSecond} events/s; statement ${result.statementMs} ms, relay ${result.relayMs} ms); left cached: ${l2} in L2, ${hits} hits; ` +
      `CPU s ${JSON.stringify(cpu)}; single-row lag before ${p(result.singleRowMs.before)}, ` +
      `while the statement runs ${p(result.singleRowMs.statement)}, while the bulk drains ${p(result.singleRowMs.drain)}, ` +
      `after ${p(result.singleRowMs.after)}`,
  );
  return result;
}

async function countInL2(db: BenchDatabase, sample: { id: string }[]): Promise<number> {
  const redis = db.redis();
  try {
    let found = 0;
    for (let i = 0; i < sample.length; i += 1000) {
      found += await redis.exists(...sample.slice(i, i + 1000).map((p) => `${db.prefix}${PRODUCT}${p.id}`));
    }
    return found;
  } finally {
    redis.disconnect();
  }
}

/** Standalone: its own database and two BFFs (`dist/`, so build first). */
async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const log = (message: string) => process.stdout.write(`▸ ${message}\n`);
  const db = await BenchDatabase.create('bulk');
  const servers: BenchServer[] = [];
  try {
    const env = db.env();
    // The first instance seeds the demo catalog (development), whose products the single-row writer changes.
    const a = await startServer('bff-a', BFF_MAIN, { ...env, NODE_ENV: 'development', CDC_CONSUMER_NAME: 'bulk-a' });
    servers.push(a);
    const b = await startServer('bff-b', BFF_MAIN, { ...env, CDC_CONSUMER_NAME: 'bulk-b' });
    servers.push(b);
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM catalog.products ORDER BY id`);
    const result = await measureBulk({
      db,
      instances: [a, b],
      rows: arg('rows', 100_000),
      warmProducts: arg('warm', 5000),
      singleRowIds: rows.map((r) => r.id),
      singleRowWritesPerSecond: arg('writes', 500),
      singleRowSeconds: arg('seconds', 2),
      log,
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await db.drop();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bulk failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
