import { Logger } from '@nestjs/common';
import { Cluster } from 'ioredis';
import {
  CDC_BATCH_HANDLER,
  CDC_REPLICA_WAIT_MS,
  CdcEvent,
  CdcStats,
  CONSUMER_GROUP,
  OutboxRelay,
  RedisStreamsClient,
  RedisStreamsServer,
} from '@app/cdc';
import { RedisTopology, ReplicaWait } from '@app/redis';
import { eventually } from '../../tools/eventually';
import { ClusterNode, RedisCluster } from '../../tools/redis-cluster';
import { useTestContext } from '../harness/test-context';
import { readStream, seedCatalog, SeededCatalog, uniq } from './support';

/**
 * docs/contract.md §5.10, §6: the CDC pipeline on a real Redis Cluster (3 masters + 3 replicas,
 * tools/redis-cluster.ts), at the libs/cdc level: the outbox relay publishing to the streams and the
 * subscriber consuming them, with a handler that records every event it applies, so that delivery itself
 * is checked (every event, at least once), whatever the handlers do. The catalog and orders streams are put
 * on different masters. Every outbox row's event must be handled at least once through a graceful failover
 * and a SIGKILL of a stream's master, and the relay must not count a publish that no replica acknowledged
 * (WAIT, REDIS_CLUSTER_WAIT_REPLICAS=1).
 */
describe('CDC on a Redis Cluster: relay and subscriber through failovers', () => {
  const ctx = useTestContext();
  const replicas: ReplicaWait = { replicas: 1, timeoutMs: CDC_REPLICA_WAIT_MS };
  /** How many times each event (envelope id) was applied by the handlers. */
  const handled = new Map<string, number>();
  let cluster: RedisCluster;
  let observer: Cluster;
  let prefix: string;
  let relay: OutboxRelay;
  let subscriber: RedisStreamsServer;
  let stats: CdcStats;
  let seeded: SeededCatalog;
  let orders: string[];

  const stream = (domain: 'catalog' | 'orders') => `${prefix}cdc.${domain}.v1`;
  /** A valid envelope the catalog handler always refuses (aggregate `poison`): dead-lettered after 2 deliveries. */
  const POISON = 'poison';

  beforeAll(async () => {
    // The relay and the subscriber warn on every interrupted read and failed publish: expected here.
    if (!process.env.TEST_LOG_LEVEL) Logger.overrideLogger(['error']);
    cluster = await RedisCluster.start();
    observer = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    // A prefix that puts the two streams on different masters, so one failover concerns one of them only.
    for (let i = 0; ; i++) {
      prefix = `${ctx().redisPrefix}${i}:`;
      if ((await cluster.masterOf(stream('catalog'))).id !== (await cluster.masterOf(stream('orders'))).id) break;
    }
    const topology: RedisTopology = { kind: 'cluster', nodes: cluster.startupNodes };
    const publisher = new RedisStreamsClient({ redis: topology, replicas, prefix, maxLen: 100_000 });
    relay = new OutboxRelay(publisher, {
      databaseUrl: ctx().databaseUrl,
      dualPublish: {},
      retentionMs: 3_600_000,
      pollMs: 200,
    });
    stats = new CdcStats();
    subscriber = new RedisStreamsServer(
      { redis: topology, replicas, prefix, consumer: 'cluster-test', claimIdleMs: 1000, maxDeliveries: 2 },
      stats,
    );
    const record = async (events: CdcEvent[]) => {
      if (events.some((e) => e.aggregate.id === POISON)) throw new Error('refused: poison');
      for (const e of events) handled.set(e.id, (handled.get(e.id) ?? 0) + 1);
    };
    for (const domain of ['catalog', 'orders']) {
      subscriber.addHandler(`cdc.${domain}.v1`, record, true, { [CDC_BATCH_HANDLER]: true });
    }
    subscriber.listen(() => undefined);
    relay.start();
  }, 60_000);

  afterAll(async () => {
    await relay?.stop();
    await subscriber?.close();
    observer?.disconnect();
    await cluster?.stop();
  });

  /** Every outbox row published, and its event applied at least once; nothing left pending in either stream. */
  async function everyEventHandled(timeoutMs = 20_000): Promise<number> {
    let rows = 0;
    await eventually(
      async () => {
        const outbox = (
          await ctx().sql.query<{ event_id: string; published: boolean }>(
            `SELECT event_id, published_at IS NOT NULL AS published FROM cdc.outbox`,
          )
        ).rows;
        const unpublished = outbox.filter((r) => !r.published).length;
        const missing = outbox.filter((r) => !handled.has(r.event_id)).length;
        if (unpublished + missing > 0) {
          throw new Error(`${outbox.length} rows: ${unpublished} unpublished, ${missing} not handled`);
        }
        for (const name of [stream('catalog'), stream('orders')]) {
          const [pending] = (await observer.xpending(name, CONSUMER_GROUP)) as [number];
          if (pending > 0) throw new Error(`${pending} entries pending in ${name}`);
        }
        rows = outbox.length;
      },
      { timeoutMs, intervalMs: 50, message: 'every outbox event to be published and handled' },
    );
    return rows;
  }

  /** Changes products and orders by plain SQL, one row a statement (one outbox row each), until stopped. */
  function churn(): { stop: () => Promise<number> } {
    let running = true;
    let changes = 0;
    const loop = (async () => {
      for (let i = 0; running; i++) {
        const product = seeded.products[i % seeded.products.length];
        await ctx().sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [product.id]);
        await ctx().sql.query(`UPDATE orders.orders SET total_cents = total_cents + 1 WHERE id = $1`, [
          orders[i % orders.length],
        ]);
        changes += 2;
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return changes;
      },
    };
  }

  /** Entry count of a stream, read from its master now. */
  const length = (domain: 'catalog' | 'orders') => observer.xlen(stream(domain));

  it('publishes and consumes catalog and orders events on streams served by different masters', async () => {
    const [catalogMaster, ordersMaster] = [
      await cluster.masterOf(stream('catalog')),
      await cluster.masterOf(stream('orders')),
    ];
    expect(catalogMaster.id).not.toBe(ordersMaster.id);

    seeded = await seedCatalog(ctx().sql, 2, 3);
    orders = [];
    for (let i = 0; i < 3; i++) {
      const { rows } = await ctx().sql.query<{ id: string }>(
        `INSERT INTO orders.orders (account_id, currency, customer_email, shipping_address)
         VALUES ($1, 'EUR', 'c@example.com', '{}') RETURNING id`,
        [`acc-${uniq()}`],
      );
      orders.push(rows[0].id);
    }

    const rows = await everyEventHandled();
    // 2 categories, 6 products, 6 stock rows, 3 orders.
    expect(rows).toBe(17);
    expect(await length('catalog')).toBeGreaterThanOrEqual(14);
    expect(await length('orders')).toBeGreaterThanOrEqual(3);
    expect(stats.consuming).toBe(true);
  });

  it('dead-letters a non-JSON entry and an envelope its handler refuses, and acknowledges both', async () => {
    const before = stats.deadLettered;
    const notJson = await observer.xadd(stream('catalog'), '*', 'event', '{"id": "truncated');
    const refused = await observer.xadd(
      stream('catalog'),
      '*',
      'event',
      JSON.stringify({
        id: '00000000-0000-4000-8000-000000000000',
        type: 'catalog.product.updated',
        messageVersion: 1,
        schemaVersion: 1,
        source: 'test:poison',
        occurredAt: new Date().toISOString(),
        aggregate: { type: 'product', id: POISON },
        data: {},
      }),
    );
    // Behind them, a captured change: applied although the poison before it is not.
    await ctx().sql.query(`UPDATE catalog.products SET name = 'After the poison' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    await everyEventHandled();

    const letters = await readStream(observer, `${stream('catalog')}:dlq`);
    expect(letters.map((l) => l.fields.entryId)).toEqual([notJson, refused]);
    expect(letters[0].fields).toMatchObject({ error: 'event is not JSON', deliveries: '1' });
    expect(letters[1].fields).toMatchObject({
      error: expect.stringMatching(/^delivered 3 times without success; last error here: refused: poison/),
    });
    expect(stats.deadLettered - before).toBe(2);
  });

  it('graceful failover of the catalog stream master mid-stream: no event is lost', async () => {
    const master = await cluster.masterOf(stream('catalog'));
    const writes = churn();
    await eventually(async () => (await length('catalog')) > 100, { message: 'changes to flow' });
    await cluster.failover(master);
    expect((await cluster.masterOf(stream('catalog'))).id).not.toBe(master.id);
    // Changes keep flowing through the new master before the writer stops.
    const atFailover = await length('catalog');
    await eventually(async () => (await length('catalog')) > atFailover + 50, { message: 'changes after failover' });
    expect(await writes.stop()).toBeGreaterThan(100);
    await everyEventHandled();
  });

  let killed: ClusterNode;

  it('SIGKILL of the catalog stream master mid-stream: no event is lost; the promoted replica counts no publish until it has a replica again', async () => {
    killed = await cluster.masterOf(stream('catalog'));
    const writes = churn();
    await eventually(async () => (await length('catalog')) > 100, { message: 'changes to flow' });
    await cluster.kill(killed);
    // The replica that took over has no replica of its own: WAIT 1 answers 0, the catalog rows stay unpublished.
    await eventually(() => expect(relay.lastPublishError?.message).toMatch(/0 of 1 replicas acknowledged/), {
      timeoutMs: 10_000,
      message: 'the relay to refuse unreplicated publishes',
    });
    await cluster.restart(killed);
    expect(await writes.stop()).toBeGreaterThan(100);
    await everyEventHandled();
    expect(relay.lastPublishError).toBeUndefined();
  });

  it("WAIT: with the orders stream master's replica down, the relay appends but does not mark the row published", async () => {
    const master = await cluster.masterOf(stream('orders'));
    const replica = await cluster.replicaOf(master);
    await cluster.kill(replica);

    await ctx().sql.query(`UPDATE orders.orders SET status = 'paid' WHERE id = $1`, [orders[0]]);
    const {
      rows: [row],
    } = await ctx().sql.query<{ id: string; event_id: string }>(
      `SELECT id, event_id FROM cdc.outbox WHERE aggregate_id = $1 ORDER BY id DESC LIMIT 1`,
      [orders[0]],
    );
    // The master took the XADD (and the subscriber may well have applied it) …
    const inStream = async () =>
      (await readStream(observer, stream('orders'))).some((e) => e.event?.id === row.event_id);
    await eventually(inStream, { message: 'the event to be appended' });
    const appended = Date.now();
    // … but no replica acknowledged it within the wait: the publish failed, after that append.
    await eventually(
      () => {
        const failure = relay.lastPublishError;
        expect(failure?.message).toMatch(/0 of 1 replicas acknowledged the write within 1000 ms/);
        expect(failure!.at.getTime()).toBeGreaterThanOrEqual(appended);
      },
      { timeoutMs: 10_000, message: 'the publish to fail for want of a replica' },
    );
    const published = async () =>
      (await ctx().sql.query(`SELECT published_at FROM cdc.outbox WHERE id = $1`, [row.id])).rows[0].published_at;
    expect(await published()).toBeNull();

    await cluster.restart(replica);
    await everyEventHandled();
    expect(await published()).not.toBeNull();
  });
});
