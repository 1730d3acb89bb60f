import { execFileSync } from 'node:child_process';
import { eventually } from '../../tools/eventually';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { DATABASE_IDENTITY_CHECK_MS } from '../../apps/bff/src/database-identity';
import { createOrder } from '../harness/fixtures';
import { TestContext, useTestContext } from '../harness/test-context';
import { createDatabase, dropDatabase } from '../harness/test-database';
import { waitForCdc, CDC_OFF, TRUTH_ENV } from '../harness/cdc';
import { appReader, catalogUrls, expectViewsEqual, rawRedis, Reader, seedCatalog, uniq, warm } from './support';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * The identity this database answers:
 * `<cdc.database_identity.id>/<database oid>/<system identifier>/<timeline>/<identity table oid>.<event trigger oid>`.
 */
async function databaseIdentity(ctx: TestContext): Promise<string> {
  const { rows } = await ctx.sql.query(`
    SELECT (SELECT id::text FROM cdc.database_identity) || '/' ||
           (SELECT oid::text FROM pg_database WHERE datname = current_database()) || '/' ||
           (SELECT system_identifier::text FROM pg_control_system()) || '/' ||
           ltrim(substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), '0') || '/' ||
           'cdc.database_identity'::regclass::oid::text || '.' ||
           (SELECT oid::text FROM pg_event_trigger WHERE evtname = 'cachegate_capture_resumed') AS identity`);
  return rows[0].identity;
}

/** Stops an app of the context before the context ends (closing it twice is avoided). */
async function stop(ctx: TestContext, app: NestFastifyApplication): Promise<void> {
  ctx.apps.splice(ctx.apps.indexOf(app), 1);
  await app.close();
}

/**
 * docs/contract.md §5.9: the cache belongs to one incarnation of the database. Redis keeps
 * entries across a database being dropped and created again (or restored), so
 * the BFF compares the database's identity with the one recorded under its
 * prefix, at boot and every DATABASE_IDENTITY_CHECK_MS, and drops every entry
 * of the prefix (and every L1) when they differ.
 */
describe('database identity: a new incarnation of the database is never served the old one’s entries', () => {
  const ctx = useTestContext();
  let redis: Redis;
  const identityKey = () => `${ctx().redisPrefix}cache:db-identity`;

  beforeAll(() => (redis = rawRedis()));
  afterAll(() => redis.disconnect());

  it('records the database identity at boot', async () => {
    const app = await ctx().startBff(CDC_OFF);
    const identity = await databaseIdentity(ctx());
    expect(identity).toMatch(new RegExp(`^${UUID}/\\d+/\\d+/[0-9A-F]+/\\d+\\.\\d+$`));
    expect(await redis.get(identityKey())).toBe(identity);
    await stop(ctx(), app);
  });

  it('a database dropped and recreated under the same name: the BFF starting on it drops the old entries', async () => {
    const first = await ctx().startBff();
    const seeded = await seedCatalog(ctx().sql, 2, 2);
    const accountId = `acct-${uniq()}`;
    const order = await createOrder(first, [{ productId: seeded.products[0].id, quantity: 1 }], { accountId });
    await waitForCdc(first);
    const urls = [...catalogUrls(seeded), `/orders/${order.id}`, `/accounts/${accountId}/orders`];
    await warm(appReader(first), urls);
    const oldIdentity = await redis.get(identityKey());
    expect(await redis.exists(`${ctx().redisPrefix}orders:detail:${order.id}`)).toBe(1);
    await stop(ctx(), first);

    // Same name, same URL, same Redis prefix; the contents are the template's (no catalog, no orders).
    ctx().sql.on('error', () => undefined); // its idle connections are terminated by the drop
    await dropDatabase(ctx().databaseName);
    await createDatabase(ctx().databaseName, process.env.CACHEGATE_TEST_TEMPLATE);
    // The old entries are still in Redis: only the identity check stands between them and a reader.
    expect(await redis.exists(`${ctx().redisPrefix}orders:detail:${order.id}`)).toBe(1);

    const second = await ctx().startBff();
    const cached: Reader = appReader(second);
    expect(await cached(`/orders/${order.id}`)).toMatchObject({ status: 404 });
    expect(await cached(`/accounts/${accountId}/orders`)).toMatchObject({ status: 200, body: [], cache: 'MISS' });
    expect(await cached(`/catalog/products/${seeded.products[0].id}`)).toMatchObject({ status: 404 });
    expect(await cached('/catalog/categories')).toMatchObject({ status: 200, body: [] });
    await expectViewsEqual(cached, appReader(await ctx().startBff(TRUTH_ENV)), urls);
    // The same uuid (both incarnations are clones of one template): the new OID told them apart.
    const newIdentity = await databaseIdentity(ctx());
    expect(newIdentity.split('/')[0]).toBe(oldIdentity?.split('/')[0]);
    expect(newIdentity).not.toBe(oldIdentity);
    expect(await redis.get(identityKey())).toBe(newIdentity);
  });
});

describe('database identity: the operator command after a restore in place', () => {
  const ctx = useTestContext();
  let redis: Redis;

  beforeAll(() => (redis = rawRedis()));
  afterAll(() => redis.disconnect());

  it('UPDATE cdc.database_identity SET id = gen_random_uuid() drops every entry on running BFFs', async () => {
    // No CDC anywhere: plain-SQL writes reach no cache, as with a restore done by outside tools.
    const [one, two] = [await ctx().startBff(CDC_OFF), await ctx().startBff(CDC_OFF)];
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    const product = seeded.products[0];
    const urls = catalogUrls(seeded);
    const readers = [appReader(one), appReader(two)];
    for (const read of readers) await warm(read, urls);

    const renamed = `Restored ${uniq()}`;
    await ctx().sql.query(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [product.id, renamed]);
    await ctx().sql.query(`UPDATE catalog.stock_levels SET quantity = 7 WHERE product_id = $1`, [product.id]);
    for (const read of readers) {
      // Stale, as after a restore that no event describes.
      expect(await read(`/catalog/products/${product.id}`)).toMatchObject({ cache: 'HIT-L1' });
      expect((await read(`/catalog/products/${product.id}`)).body).not.toMatchObject({ name: renamed });
    }

    await ctx().sql.query(`UPDATE cdc.database_identity SET id = gen_random_uuid()`);
    const truth = appReader(await ctx().startBff(TRUTH_ENV));
    for (const read of readers) {
      // Within a check period or so (plus the channel's flush for the instance that did not reset).
      await eventually(
        async () => {
          expect(await read(`/catalog/products/${product.id}`)).toMatchObject({ status: 200, body: { name: renamed } });
          expect(await read(`/catalog/products/${product.id}/availability`)).toMatchObject({ body: { quantity: 7 } });
        },
        { timeoutMs: 3 * DATABASE_IDENTITY_CHECK_MS },
      );
      await expectViewsEqual(read, truth, urls);
    }
    expect(await redis.get(`${ctx().redisPrefix}cache:db-identity`)).toBe(await databaseIdentity(ctx()));
  });
});

/**
 * `pg_restore --clean` of an older dump into the same database keeps its OID, its system identifier and (the
 * dump's own row) its uuid, and its data is loaded before the capture triggers exist. What a restore always
 * makes anew: every table (new OIDs) and, last of all, the event trigger (pg_dump restores event triggers
 * after everything else, so that they do not fire during the restore). Both are part of the identity, so
 * the identity changes once the restore is over, with nothing for the operator to run.
 */
describe('database identity: pg_restore --clean of an older dump in place is detected by itself', () => {
  const ctx = useTestContext();

  it('running BFFs drop what they cached and serve the restored rows', async () => {
    const [one, two] = [await ctx().startBff(), await ctx().startBff(CDC_OFF)];
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    const product = seeded.products[0];
    const original = (await ctx().sql.query(`SELECT name FROM catalog.products WHERE id = $1`, [product.id])).rows[0]
      .name as string;
    // Every change published first: the dump's outbox holds nothing the relay would publish again.
    await waitForCdc(one);
    const dump = execFileSync('pg_dump', ['--format=custom', ctx().databaseUrl]);

    await ctx().sql.query(`UPDATE catalog.products SET name = $2 WHERE id = $1`, [product.id, `Renamed ${uniq()}`]);
    await waitForCdc(one);
    const urls = catalogUrls(seeded);
    const readers = [appReader(one), appReader(two)];
    for (const read of readers) await warm(read, urls);

    ctx().sql.on('error', () => undefined);
    execFileSync('pg_restore', ['--clean', '--if-exists', `--dbname=${ctx().databaseUrl}`], {
      input: dump,
    });

    const truth = appReader(await ctx().startBff(TRUTH_ENV));
    for (const read of readers) {
      await eventually(
        async () =>
          expect(await read(`/catalog/products/${product.id}`)).toMatchObject({
            status: 200,
            body: { name: original },
          }),
        { timeoutMs: 3 * DATABASE_IDENTITY_CHECK_MS },
      );
      await expectViewsEqual(read, truth, urls);
    }
  });
});
