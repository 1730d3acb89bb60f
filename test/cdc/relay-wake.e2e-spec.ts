import { ConfigService } from '@nestjs/config';
import { cdcRedis, OutboxRelay, RedisStreamsClient } from '@app/cdc';
import { Client, PoolClient } from 'pg';
import { CDC_OFF } from '../harness/cdc';
import { useSeededBff } from '../harness/seeded-bff';
import { eventually } from '../../tools/eventually';
import { seedCatalog } from './support';

/** A page the relay read: the id it read after, and the ids it got. */
interface Page {
  after: bigint;
  ids: bigint[];
}

/**
 * docs/contract.md §6.1: a commit wakes the relay with its transaction's floor, and that pass starts there.
 * Rows of a transaction still open sit in the unpublished index below later commits; a pass from id 0 visits
 * every one of them (a 100,000-row statement made each pass ~10 ms of Postgres time while it committed).
 *
 * The relay here is the test's own, with a poll of a minute, so every pass of a test is one a NOTIFY woke.
 * The pages it reads are recorded from the pg client's calls (the query's id and its answer): which rows a
 * pass walked is not visible anywhere else.
 */
describe('CDC relay: a commit wakes a pass from its own floor', () => {
  const suite = useSeededBff({
    instances: [CDC_OFF],
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 2),
    settle: false, // no relay runs until beforeAll starts the test's own
  });
  let relay: OutboxRelay;
  const pages: Page[] = [];

  beforeAll(async () => {
    const query = Client.prototype.query as (...args: unknown[]) => unknown;
    jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      const result = query.apply(this, args);
      const [text, values] = args as [unknown, unknown[]];
      if (typeof text === 'string' && text.includes('published_at IS NULL AND id >')) {
        const page: Page = { after: BigInt(values[1] as string), ids: [] };
        pages.push(page);
        void (result as Promise<{ rows: { id: string }[] }>).then(
          (r) => (page.ids = r.rows.map((row) => BigInt(row.id))),
          () => undefined,
        );
      }
      return result as never;
    });
    const { topology, replicas } = cdcRedis(suite.bff.get(ConfigService));
    const publisher = new RedisStreamsClient({
      redis: topology,
      replicas,
      prefix: suite.ctx.redisPrefix,
      maxLen: 100_000,
    });
    relay = new OutboxRelay(publisher, {
      databaseUrl: suite.ctx.databaseUrl,
      dualPublish: {},
      retentionMs: 3_600_000,
      pollMs: 60_000,
    });
    relay.start();
    await eventually(() => relay.leader, { timeoutMs: 10_000, message: 'the test relay to lead' });
    await published(await lastOutboxId());
  });

  afterAll(async () => {
    await relay?.stop();
    jest.restoreAllMocks();
  });

  async function lastOutboxId(sql: Pick<PoolClient, 'query'> = suite.ctx.sql): Promise<bigint> {
    return BigInt((await sql.query(`SELECT coalesce(max(id), 0) AS id FROM cdc.outbox`)).rows[0].id);
  }

  /** Until every outbox row up to `id` is published. */
  async function published(id: bigint): Promise<void> {
    await eventually(
      async () =>
        Number(
          (await suite.ctx.sql.query(`SELECT count(*) FROM cdc.outbox WHERE id <= $1 AND published_at IS NULL`, [id]))
            .rows[0].count,
        ) === 0,
      { timeoutMs: 10_000, message: `outbox rows up to ${id} to be published` },
    );
  }

  const pageWith = (id: bigint) => pages.find((p) => p.ids.includes(id));

  it('walks from above the rows an open transaction captured, and from below them once it commits', async () => {
    const { sql } = suite.ctx;
    const category = suite.seeded.categories[0].id;
    const open = await sql.connect();
    try {
      await open.query('BEGIN');
      const before = await lastOutboxId();
      await open.query(
        `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
         SELECT 'OPEN-' || g, 'Open ' || g, 100, 'EUR', $1 FROM generate_series(1, 500) g`,
        [category],
      );
      const openLast = await lastOutboxId(open); // its own rows are visible to it

      await sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [
        suite.seeded.products[0].id,
      ]);
      const single = await lastOutboxId();
      expect(single).toBeGreaterThan(openLast);
      await published(single);
      expect(pageWith(single)!.after).toBeGreaterThanOrEqual(openLast);

      // Committed now, below the row published above: its own NOTIFY (the poll is a minute away) walks from its floor.
      await open.query('COMMIT');
      await published(openLast);
      expect(pageWith(before + 1n)!.after).toBeLessThanOrEqual(before);
    } finally {
      await open.query('ROLLBACK').catch(() => undefined);
      open.release();
    }
  });

  it('notifies one floor per transaction, below its first row, and again after a rolled-back savepoint', async () => {
    const { sql } = suite.ctx;
    const [p0, p1] = suite.seeded.products.map((p) => p.id);
    const listener = new Client({ connectionString: suite.ctx.databaseUrl });
    const floors: bigint[] = [];
    let marker = false;
    listener.on('notification', (n) => {
      if (n.payload === 'marker') marker = true;
      else if (/^\d+$/.test(n.payload ?? '')) floors.push(BigInt(n.payload!));
    });
    await listener.connect();
    try {
      await listener.query('LISTEN cachegate_cdc');
      /** The floors notified for `body`'s transaction (a marker sent after it commits says all have arrived). */
      const floorsOf = async (body: (c: PoolClient) => Promise<void>): Promise<bigint[]> => {
        floors.length = 0;
        marker = false;
        const c = await sql.connect();
        try {
          await c.query('BEGIN');
          await body(c);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
        await sql.query(`NOTIFY cachegate_cdc, 'marker'`);
        await eventually(() => marker, { timeoutMs: 5000, message: 'the marker notification' });
        return [...floors];
      };
      const rowsOf = async (ids: string[], after: bigint) =>
        (
          await sql.query(`SELECT id FROM cdc.outbox WHERE id > $1 AND aggregate_id = ANY($2) ORDER BY id`, [
            after,
            ids,
          ])
        ).rows.map((r) => BigInt(r.id));

      let before = await lastOutboxId();
      const two = await floorsOf(async (c) => {
        await c.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [p0]);
        await c.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [p1]);
      });
      const twoRows = await rowsOf([p0, p1], before);
      expect(twoRows).toHaveLength(2);
      expect(two).toEqual([before]);

      before = await lastOutboxId();
      const savepoint = await floorsOf(async (c) => {
        await c.query('SAVEPOINT s');
        await c.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [p0]);
        await c.query('ROLLBACK TO SAVEPOINT s');
        await c.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [p1]);
      });
      const [kept] = await rowsOf([p1], before);
      expect(await rowsOf([p0], before)).toEqual([]);
      // The rolled-back statement took an id (sequences do not roll back): the floor is above it, below the kept row.
      expect(savepoint).toHaveLength(1);
      expect(savepoint[0]).toBeGreaterThan(before);
      expect(savepoint[0]).toBeLessThan(kept);
    } finally {
      await listener.end();
    }
  });
});
