import { ConfigService } from '@nestjs/config';
import { cdcRedis, OutboxRelay, RedisStreamsClient } from '@app/cdc';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, PoolClient } from 'pg';
import { CDC_OFF } from '../harness/cdc';
import { StartedBff, useSeededBff } from '../harness/seeded-bff';
import { eventually } from '../../tools/eventually';
import { rawRedis, readStream, seedCatalog } from './support';

/** The test's own relay (the BFF runs none), on the BFF's Redis and database, leading once this resolves. */
async function startRelay(suite: StartedBff, pollMs: number): Promise<OutboxRelay> {
  const { topology, replicas } = cdcRedis(suite.bff.get(ConfigService));
  const publisher = new RedisStreamsClient({
    redis: topology,
    replicas,
    prefix: suite.ctx.redisPrefix,
    maxLen: 100_000,
  });
  const relay = new OutboxRelay(publisher, {
    databaseUrl: suite.ctx.databaseUrl,
    dualPublish: {},
    retentionMs: 3_600_000,
    pollMs,
  });
  relay.start();
  await eventually(() => relay.leader, { timeoutMs: 10_000, message: 'the test relay to lead' });
  return relay;
}

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
  /** Set by a test: the relay's next page read is held (not sent to Postgres) until `release` resolves. */
  let hold: { release: Promise<void>; reached: () => void } | undefined;

  beforeAll(async () => {
    const query = Client.prototype.query as (...args: unknown[]) => unknown;
    jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      const [text, values] = args as [unknown, unknown[]];
      if (typeof text !== 'string' || !text.includes('published_at IS NULL AND id >')) return query.apply(this, args);
      const read = () => {
        const result = query.apply(this, args) as Promise<{ rows: { id: string }[] }>;
        const page: Page = { after: BigInt(values[1] as string), ids: [] };
        pages.push(page);
        void result.then(
          (r) => (page.ids = r.rows.map((row) => BigInt(row.id))),
          () => undefined,
        );
        return result;
      };
      const held = hold;
      hold = undefined;
      if (!held) return read() as never;
      held.reached();
      return held.release.then(read) as never;
    });
    relay = await startRelay(suite, 60_000);
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

  /** Holds the relay's next page read before it reaches Postgres: `reached` once it is held, sent on `release()`. */
  function holdNextPage(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const held = { reached: new Promise<void>((r) => (reached = r)), release: () => release() };
    hold = { release: new Promise<void>((r) => (release = r)), reached };
    return held;
  }

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

  it('reads again from a lower floor notified meanwhile, so a change waiting for a lower row is published after it', async () => {
    const { sql } = suite.ctx;
    const [first, other] = suite.seeded.products.map((p) => p.id);
    const rename = (c: Pick<PoolClient, 'query'>, id: string, name: string) =>
      c.query(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [id, name]);
    const before = await lastOutboxId();
    const t1 = await sql.connect();
    const t3 = await sql.connect();
    try {
      await t1.query('BEGIN');
      await rename(t1, first, 'one'); // the lowest id, committed second
      await t3.query('BEGIN');
      await rename(t3, other, 'three'); // its floor is above t1's row
      const page = holdNextPage();
      await t3.query('COMMIT');
      await page.reached; // the pass woken by t3 is about to read from t3's floor
      await t1.query('COMMIT');
      await rename(sql, first, 'two'); // the same product again: after t1, a higher id than t3's row
      page.release();
      await published(await lastOutboxId());
    } finally {
      hold = undefined;
      for (const c of [t1, t3]) {
        await c.query('ROLLBACK').catch(() => undefined);
        c.release();
      }
    }
    // The product's events in the stream are in the order of its outbox rows: 'one' before 'two'.
    const { rows } = await sql.query(
      `SELECT event_id FROM cdc.outbox WHERE id > $1 AND aggregate_id = $2 ORDER BY id`,
      [before, first],
    );
    expect(rows).toHaveLength(2);
    const redis = rawRedis();
    try {
      const streamed = (await readStream(redis, `${suite.ctx.redisPrefix}cdc.catalog.v1`))
        .map((e) => e.event.id)
        .filter((id) => rows.some((r) => r.event_id === id));
      expect(streamed).toEqual(rows.map((r) => r.event_id));
    } finally {
      redis.disconnect();
    }
  });

  it('reads a dropped page again from its own start when the lower floor is inside it: none of its rows is skipped', async () => {
    const { sql } = suite.ctx;
    const [first, other] = suite.seeded.products.map((p) => p.id);
    const t3 = await sql.connect();
    const t5 = await sql.connect();
    try {
      await t3.query('BEGIN');
      await t3.query(`UPDATE catalog.products SET name = 'three' WHERE id = $1`, [other]);
      await t5.query('BEGIN');
      await t5.query(`UPDATE catalog.products SET name = 'five' WHERE id = $1`, [first]); // floor: t3's row
      const page = holdNextPage();
      await t3.query('COMMIT');
      await page.reached; // the pass woken by t3 reads from t3's floor: t3's row and, once committed, t5's
      await t5.query('COMMIT'); // its floor, t3's row, is inside that page
      page.release();
      await published(await lastOutboxId());
    } finally {
      hold = undefined;
      for (const c of [t3, t5]) {
        await c.query('ROLLBACK').catch(() => undefined);
        c.release();
      }
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

/**
 * The poll is the backstop for a row no NOTIFY announced (here: written with session_replication_role = replica,
 * as a restore or a logical replica writes, so no trigger fires). Every commit resets the poll timer, so under a
 * steady stream of commits it never fires: the relay also walks from the start once a poll period has passed.
 */
describe('CDC relay: a row nobody notified is published while other commits keep the relay busy', () => {
  const suite = useSeededBff({ instances: [CDC_OFF], seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 1), settle: false });
  let relay: OutboxRelay;

  beforeAll(async () => {
    relay = await startRelay(suite, 500);
  });

  afterAll(() => relay?.stop());

  it('within a few poll periods, with commits every 20 ms', async () => {
    const { sql } = suite.ctx;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await sql.query(`UPDATE catalog.products SET price_cents = price_cents + 1 WHERE id = $1`, [
          suite.seeded.products[0].id,
        ]);
        await sleep(20);
      }
    })();
    const silent = await sql.connect();
    try {
      await silent.query(`SET session_replication_role = replica`);
      const { rows } = await silent.query(
        `INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
         VALUES ('catalog', 'catalog.promotion.updated', 'promotion', 'silent', 'test') RETURNING id`,
      );
      await eventually(
        async () =>
          (await sql.query(`SELECT published_at FROM cdc.outbox WHERE id = $1`, [rows[0].id])).rows[0].published_at !==
          null,
        { timeoutMs: 5000, message: 'the silent row to be published' },
      );
    } finally {
      writing = false;
      await writer;
      await silent.query(`RESET session_replication_role`);
      silent.release();
    }
  });
});
