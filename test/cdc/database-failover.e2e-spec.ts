import { Pool } from 'pg';
import { eventually } from '../../tools/eventually';
import { PostgresPair } from '../../tools/postgres-pair';
import { TcpProxy } from '../../tools/tcp-proxy';
import { DATABASE_IDENTITY_CHECK_MS } from '../../apps/bff/src/database-identity';
import { CDC_OFF, TRUTH_ENV, waitForCdc } from '../harness/cdc';
import { useTestContext } from '../harness/test-context';
import { appReader, catalogUrls, expectViewsEqual, seedCatalog, uniq, warm } from './support';

/**
 * docs/contract.md §5.9: a Postgres failover to an asynchronous replica loses the commits the replica had
 * not received. Their events were published and applied, so the caches hold views of rows the new primary
 * never had, and no event will ever describe going back. The promoted replica starts a new timeline, which
 * is part of the database identity: every instance drops the cache within a check or two.
 *
 * Here: a primary and its streaming replica of our own (tools/postgres-pair), the BFFs reaching the
 * primary through a proxy that is later pointed at the promoted replica (the stable address a failover
 * keeps), and replication cut before the last commit.
 */
describe('database identity: a failover to a replica that lacks the last commits', () => {
  const ctx = useTestContext();
  let pair: PostgresPair;
  let replication: TcpProxy;
  let front: TcpProxy;
  let sql: Pool;

  beforeAll(async () => {
    pair = await PostgresPair.start(async (primaryPort) => {
      replication = await TcpProxy.start({ port: primaryPort });
      return replication.port;
    });
    front = await TcpProxy.start({ port: pair.primaryPort });
    sql = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${front.port}/cachegate`, max: 2 });
    sql.on('error', () => undefined); // the failover ends its connections
  }, 60_000);

  afterAll(async () => {
    await sql?.end();
    await front?.close();
    await replication?.close();
    await pair?.close();
  });

  /** Resolves once the replica has replayed everything the primary has written. */
  async function replicaCaughtUp(): Promise<void> {
    const replica = new Pool({
      connectionString: `postgres://postgres@127.0.0.1:${pair.replicaPort}/postgres`,
      max: 1,
    });
    try {
      const [{ lsn }] = (await sql.query(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows;
      await eventually(async () => {
        const { rows } = await replica.query(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done`, [lsn]);
        expect(rows[0].done).toBe(true);
      });
    } finally {
      await replica.end();
    }
  }

  it('views of commits the promoted replica never received are dropped on every instance', async () => {
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${front.port}/cachegate` };
    const bff = await ctx().startBff(env);
    const other = await ctx().startBff({ ...env, ...CDC_OFF });
    const seeded = await seedCatalog(sql, 1, 2);
    const product = seeded.products[0];
    const { name: original } = (await sql.query(`SELECT name FROM catalog.products WHERE id = $1`, [product.id]))
      .rows[0];
    await waitForCdc(bff);
    await replicaCaughtUp();

    // The last commit reaches the primary only; CDC applies it, and both instances cache its views.
    await replication.cut();
    const lost = `Lost in the failover ${uniq()}`;
    await sql.query(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [product.id, lost]);
    await waitForCdc(bff);
    const urls = catalogUrls(seeded);
    const readers = [appReader(bff), appReader(other)];
    for (const read of readers) {
      await warm(read, urls);
      expect((await read(`/catalog/products/${product.id}`)).body).toMatchObject({ name: lost });
    }

    await pair.stopPrimary();
    await pair.promote();
    await front.retarget(pair.replicaPort);

    const truth = appReader(await ctx().startBff({ ...env, ...TRUTH_ENV }));
    expect((await truth(`/catalog/products/${product.id}`)).body).toMatchObject({ name: original });
    for (const read of readers) {
      await eventually(
        async () => expect((await read(`/catalog/products/${product.id}`)).body).toMatchObject({ name: original }),
        { timeoutMs: 5 * DATABASE_IDENTITY_CHECK_MS },
      );
      await expectViewsEqual(read, truth, urls);
    }
  });
});
