import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchDatabase } from './bench-database';
import { percentiles } from './report';
import type { BenchServer } from './servers';

export interface LagOptions {
  db: BenchDatabase;
  instances: BenchServer[];
  productIds: string[];
  writesPerSecond: number;
  durationSeconds: number;
  log: (message: string) => void;
}

/**
 * Commit → key gone from L2 and from every instance's L1, under a steady write
 * load made with plain SQL (autocommit UPDATEs, as any writer would).
 *
 * The invalidation script deletes the L2 entry and publishes the dropped keys
 * in one atomic step, and every instance deletes them from its L1 when the
 * message arrives; a subscriber of our own on the same channel therefore sees
 * the moment the key is gone everywhere. Lag = message received − the instant
 * the UPDATE was sent (so it slightly overstates: it includes the UPDATE's own
 * round trip).
 */
export async function measureInvalidationLag(options: LagOptions) {
  const { db, instances, productIds } = options;
  const subscriber = db.redis();
  const pending = new Map<string, number[]>();
  const samples: number[] = [];
  await subscriber.subscribe(`${db.prefix}cache:invalidations`);
  subscriber.on('message', (_channel: string, text: string) => {
    const now = performance.now();
    for (const key of (JSON.parse(text) as { keys?: string[] }).keys ?? []) {
      if (!key.startsWith('catalog:product:')) continue;
      const sent = pending.get(key.slice('catalog:product:'.length))?.shift();
      if (sent !== undefined) samples.push(now - sent);
    }
  });

  // Cache the products on every instance first, so each write really has something to drop.
  for (const instance of instances) {
    await Promise.all(
      productIds.map((id) => fetch(`${instance.url}/catalog/products/${id}`).then((r) => r.arrayBuffer())),
    );
  }

  options.log(`invalidation lag: ${options.writesPerSecond} writes/s for ${options.durationSeconds} s`);
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((options.writesPerSecond * tickMs) / 1000));
  const end = performance.now() + options.durationSeconds * 1000;
  let writes = 0;
  const inFlight: Promise<unknown>[] = [];
  let next = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < perTick; i++) {
      const id = productIds[writes % productIds.length];
      writes++;
      let queue = pending.get(id);
      if (!queue) pending.set(id, (queue = []));
      queue.push(performance.now());
      inFlight.push(db.pool.query('UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1', [id]));
    }
    next += tickMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(inFlight);
  // Let the pipeline drain before counting what never arrived.
  const drainUntil = Date.now() + 10_000;
  while (samples.length < writes && Date.now() < drainUntil) await sleep(50);
  subscriber.disconnect();

  const serverMs: Record<string, { p50: number | null; p99: number | null; max: number | null }> = {};
  for (const instance of instances) {
    const report = (await (await fetch(`${instance.url}/health/cdc`)).json()) as {
      invalidationLagMs: (typeof serverMs)[string];
    };
    serverMs[instance.name] = report.invalidationLagMs;
  }
  const clientMs = percentiles(samples);
  options.log(
    `invalidation lag: p50 ${clientMs.p50.toFixed(1)} ms, p99 ${clientMs.p99.toFixed(1)} ms over ${samples.length}/${writes} writes`,
  );
  return { writes, observed: samples.length, lost: writes - samples.length, clientMs, serverMs };
}
