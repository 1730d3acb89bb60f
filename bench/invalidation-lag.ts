import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchDatabase } from './bench-database';
import { percentiles } from './percentiles';
import type { BenchServer } from './servers';

export interface LagOptions {
  db: BenchDatabase;
  instances: BenchServer[];
  productIds: string[];
  writesPerSecond: number;
  durationSeconds: number;
  /** Where to listen for the invalidation messages (default: the bench's Redis); on a cluster, any one node. */
  subscribeUrl?: string;
  log: (message: string) => void;
}

/** A write of one product, by the bench's clock: sent, and (once the UPDATE answered) committed. */
export interface Write {
  sent: number;
  committed?: number;
}

/**
 * The writes of each product whose invalidation has not been seen yet, and the
 * rule that matches a drop of the product's key to them. The subscriber merges
 * the entries of a batch into one invalidation, so one drop can cover several
 * writes of a product: it covers every pending write that had committed before
 * the drop was seen (its event may have been in that batch), and at least the
 * oldest one. (Matching one drop to one write would fall behind for good at the
 * first merge and report every later write of the product as late.)
 */
export class PendingWrites {
  private readonly byProduct = new Map<string, Write[]>();

  sent(productId: string): Write {
    const write: Write = { sent: performance.now() };
    let queue = this.byProduct.get(productId);
    if (!queue) this.byProduct.set(productId, (queue = []));
    queue.push(write);
    return write;
  }

  committed(write: Write): void {
    write.committed = performance.now();
  }

  /** The product's key was seen dropped at `now`: the writes that covers. */
  dropped(productId: string, now: number): Write[] {
    const queue = this.byProduct.get(productId);
    if (!queue || queue.length === 0) return [];
    let covered = 1;
    while (covered < queue.length && queue[covered].committed !== undefined && queue[covered].committed! < now)
      covered++;
    return queue.splice(0, covered);
  }
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
  const subscriber = db.redis(options.subscribeUrl);
  const pending = new PendingWrites();
  const samples: number[] = [];
  await subscriber.subscribe(`${db.prefix}cache:invalidations`);
  subscriber.on('message', (_channel: string, text: string) => {
    const now = performance.now();
    for (const key of (JSON.parse(text) as { keys?: string[] }).keys ?? []) {
      if (!key.startsWith('catalog:product:')) continue;
      for (const { sent } of pending.dropped(key.slice('catalog:product:'.length), now)) samples.push(now - sent);
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
      const write = pending.sent(id);
      inFlight.push(
        db.pool
          .query('UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1', [id])
          .then(() => pending.committed(write)),
      );
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
