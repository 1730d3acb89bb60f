/**
 * The `workload` scenario (docs/contract.md §10, docs/BENCHMARKS.md "Workload"): each
 * system — two instances of it — serves Zipf-distributed reads of `GET /catalog/products/:id`
 * over a large catalogue while 1 % of the operations are price writes (plain SQL, or PATCHes
 * through the system: WorkloadSettings.writes), for a fixed
 * time. Per system: reads/s, latency, the source reads it cost, and the share of reads that
 * answered a price older than one already committed (bench/staleness.ts).
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import type { BenchDatabase } from './bench-database';
import { percentiles } from './percentiles';
import type { BenchServer } from './servers';
import { StaleTally, WriteLedger } from './staleness';
import { cpuMicros } from './throughput';
import { seededRandom, ZipfSampler } from './zipf';

export interface WorkloadSettings {
  /** Products seeded for the scenario, all read through their Zipf rank. */
  products: number;
  /** Zipf exponent. */
  zipfS: number;
  /** Load time per system. */
  seconds: number;
  /** Requests in flight (each worker runs one operation at a time), split over the system's instances. */
  concurrency: number;
  /** Share of operations that are writes. */
  writeShare: number;
  /**
   * How rows are written: `sql`, an UPDATE straight to Postgres (another service, a script: only CDC sees
   * it); `api`, a PATCH through the system's instances (each system's own write path: cachegate's
   * read-your-writes, the peers' delete-on-write). Old reports have no value: `sql`.
   */
  writes?: 'sql' | 'api';
  /** The TTL the peers are configured with. */
  ttlSeconds: number;
  seed: number;
}

/** A system under test: how to start its instances (all reading the bench database). */
export interface WorkloadSystem {
  name: string;
  description: string;
  start(): Promise<BenchServer[]>;
}

export interface WorkloadRow {
  system: string;
  description: string;
  instances: number;
  /** Measured load time. */
  seconds: number;
  reads: number;
  writes: number;
  readsPerSecond: number;
  writesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Index scans of catalog.products during the system's run, less the bench's own UPDATEs (one each). */
  sourceReads: number;
  sourceReadsPerSecond: number;
  /** Source reads per 1,000 reads: what a read costs the database, whatever rate the system reached. */
  sourceReadsPerThousand: number;
  /** CPU time of the system's instances together, per read; null off Linux. */
  serverCpuUsPerRead: number | null;
  /** Reads sent after a write of their row had committed: the reads that could be stale. */
  readsAfterWrite: number;
  stale: number;
  /** Stale by more than LATE_STALE_MS (bench/staleness.ts). */
  staleLate: number;
  maxStaleMs: number;
}

export interface WorkloadResult {
  settings: WorkloadSettings;
  rows: WorkloadRow[];
}

export interface WorkloadOptions {
  db: BenchDatabase;
  systems: WorkloadSystem[];
  settings: WorkloadSettings;
  log: (message: string) => void;
}

/** The row of one system's run from what was counted during it (rounded for the report). */
export function workloadRow(
  system: Pick<WorkloadSystem, 'name' | 'description'>,
  run: {
    instances: number;
    seconds: number;
    writes: number;
    latenciesMs: number[];
    tally: StaleTally;
    indexScans: number;
    cpuMicros: number | null;
  },
): WorkloadRow {
  const { tally, seconds } = run;
  const latency = percentiles(run.latenciesMs);
  const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
  const sourceReads = run.indexScans - run.writes;
  return {
    system: system.name,
    description: system.description,
    instances: run.instances,
    seconds: round(seconds, 2),
    reads: tally.reads,
    writes: run.writes,
    readsPerSecond: Math.round(tally.reads / seconds),
    writesPerSecond: round(run.writes / seconds),
    p50Ms: round(latency.p50, 2),
    p99Ms: round(latency.p99, 2),
    sourceReads,
    sourceReadsPerSecond: round(sourceReads / seconds),
    sourceReadsPerThousand: tally.reads === 0 ? 0 : round((1000 * sourceReads) / tally.reads),
    serverCpuUsPerRead: run.cpuMicros === null || tally.reads === 0 ? null : round(run.cpuMicros / tally.reads),
    readsAfterWrite: tally.afterWrite,
    stale: tally.stale,
    staleLate: tally.late,
    maxStaleMs: round(tally.maxStaleMs),
  };
}

/**
 * `count` products in one transaction without capture (`session_replication_role =
 * replica` skips the outbox triggers): nothing has them cached yet, and 100,000
 * insert events would make the first system measured pay for relaying them.
 * Vacuumed and analysed at once, for the same reason. Returns their ids in rank order.
 */
export async function seedWorkloadProducts(db: BenchDatabase, count: number): Promise<string[]> {
  const tag = `W${Date.now().toString(36).toUpperCase()}`;
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    const { rows: categories } = await client.query<{ id: string }>(
      `INSERT INTO catalog.categories (slug, name)
       SELECT lower($1) || '-' || g, 'Workload ' || g FROM generate_series(1, 100) g RETURNING id`,
      [tag],
    );
    await client.query(
      `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
       SELECT $1 || '-' || lpad(g::text, 7, '0'), 'Workload product ' || g, 1000, 'EUR', ($3::uuid[])[1 + g % 100]
         FROM generate_series(1, $2::int) g`,
      [tag, count, categories.map((c) => c.id)],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  // Now rather than by autovacuum during the first system's run.
  await db.pool.query('VACUUM ANALYZE catalog.products');
  const { rows } = await db.pool.query<{ id: string }>(
    `SELECT id FROM catalog.products WHERE sku LIKE $1 || '-%' ORDER BY sku`,
    [tag],
  );
  return rows.map((r) => r.id);
}

/** Index scans of catalog.products so far, as the statistics system has them. */
async function productIndexScans(db: BenchDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ scans: string }>(
    `SELECT coalesce(idx_scan, 0) AS scans FROM pg_stat_user_tables WHERE schemaname = 'catalog' AND relname = 'products'`,
  );
  return Number(rows[0].scans);
}

async function backends(db: BenchDatabase): Promise<number[]> {
  const { rows } = await db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
  return rows.map((r) => r.pid);
}

/**
 * Until every backend that was not there before has exited. A backend reports its
 * table statistics when it exits (otherwise up to seconds later), so once the
 * system's connections and the writer's are closed the counts are complete.
 */
async function untilBackendsGone(db: BenchDatabase, before: number[]): Promise<void> {
  const known = new Set(before);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const left = (await backends(db)).filter((pid) => !known.has(pid));
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`workload: backends ${left.join(', ')} did not exit`);
    await sleep(50);
  }
}

interface Target {
  port: number;
  agent: http.Agent;
}

/** One GET over a kept-alive connection: status and body. */
function get(target: Target, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: target.port, path, agent: target.agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** One PATCH of a product's price over a kept-alive connection: its status. */
function patchPrice(target: Target, id: string, priceCents: number): Promise<number> {
  const body = JSON.stringify({ priceCents });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: `/catalog/products/${id}`,
        method: 'PATCH',
        agent: target.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * The prices `api` writes set: one counter for every row, above any price the seed or `sql` writes reach,
 * so each row's committed prices rise as its writes commit (one write of a row in flight at a time).
 */
let apiPrice = 10_000_000;

/** One system: start its instances, run the operation streams for the set time, stop it, count. */
async function measureSystem(
  db: BenchDatabase,
  system: WorkloadSystem,
  ids: string[],
  zipf: ZipfSampler,
  settings: WorkloadSettings,
  log: (message: string) => void,
): Promise<WorkloadRow> {
  const backendsBefore = await backends(db);
  const scansBefore = await productIndexScans(db);
  log(`workload: starting ${system.name}`);
  const instances = await system.start();
  const writer = new Pool({ connectionString: db.url, max: 4 });
  const targets: Target[] = instances.map((i) => ({
    port: i.port,
    agent: new http.Agent({ keepAlive: true, maxSockets: settings.concurrency }),
  }));
  const ledger = new WriteLedger();
  const tally = new StaleTally();
  const latenciesMs: number[] = [];
  let writes = 0;
  let sent = 0;
  /** Rows with an `api` write in flight: a second one could commit out of order. */
  const writing = new Set<string>();
  const failures: string[] = [];
  const cpu = (): number | null => {
    let total = 0;
    for (const instance of instances) {
      const micros = cpuMicros(instance.pid);
      if (micros === null) return null;
      total += micros;
    }
    return total;
  };

  log(`workload: ${system.name}, ${settings.seconds} s, ${settings.writes ?? 'sql'} writes`);
  const cpuBefore = cpu();
  const started = performance.now();
  const end = started + settings.seconds * 1000;
  await Promise.all(
    Array.from({ length: settings.concurrency }, async (_, worker) => {
      const random = seededRandom(settings.seed + worker);
      while (performance.now() < end && failures.length === 0) {
        const id = ids[zipf.rank(random())];
        if (random() < settings.writeShare) {
          if ((settings.writes ?? 'sql') === 'sql') {
            const { rows } = await writer.query<{ price: number }>(
              'UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1 RETURNING price_cents AS price',
              [id],
            );
            ledger.committed(id, rows[0].price, performance.now());
          } else {
            if (writing.has(id)) continue;
            writing.add(id);
            const price = ++apiPrice;
            try {
              const status = await patchPrice(targets[sent++ % targets.length], id, price);
              if (status !== 200) throw new Error(`answered ${status}`);
              // Committed once answered: every system answers a PATCH after its UPDATE returned.
              ledger.committed(id, price, performance.now());
            } catch (err) {
              failures.push(`PATCH /catalog/products/${id}: ${(err as Error).message}`);
            } finally {
              writing.delete(id);
            }
          }
          writes++;
          continue;
        }
        const target = targets[sent++ % targets.length];
        const sentAt = performance.now();
        try {
          const { status, body } = await get(target, `/catalog/products/${id}`);
          const receivedAt = performance.now();
          if (status !== 200) throw new Error(`answered ${status}: ${body.slice(0, 200)}`);
          latenciesMs.push(receivedAt - sentAt);
          tally.add(ledger.classify(id, sentAt, (JSON.parse(body) as { priceCents: number }).priceCents));
        } catch (err) {
          failures.push(`GET /catalog/products/${id}: ${(err as Error).message}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpu();
  for (const target of targets) target.agent.destroy();
  await Promise.all(instances.map((i) => i.stop()));
  await writer.end();
  if (failures.length > 0) throw new Error(`workload: ${system.name}: ${failures[0]}`);
  await untilBackendsGone(db, backendsBefore);
  const row = workloadRow(system, {
    instances: instances.length,
    seconds,
    writes,
    latenciesMs,
    tally,
    indexScans: (await productIndexScans(db)) - scansBefore,
    cpuMicros: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
  });
  log(
    `workload: ${system.name}: ${row.readsPerSecond} reads/s, p99 ${row.p99Ms} ms, ` +
      `${row.sourceReadsPerSecond} source reads/s, ${row.stale} stale of ${row.reads} reads (${row.staleLate} > 100 ms)`,
  );
  return row;
}

/** Seeds the catalogue, then measures each system in turn, alone on the machine (the others stopped). */
export async function measureWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const { db, settings } = options;
  options.log(`workload: seeding ${settings.products} products`);
  const ids = await seedWorkloadProducts(db, settings.products);
  const zipf = new ZipfSampler(ids.length, settings.zipfS);
  const rows: WorkloadRow[] = [];
  for (const system of options.systems) {
    rows.push(await measureSystem(db, system, ids, zipf, settings, options.log));
  }
  return { settings, rows };
}
