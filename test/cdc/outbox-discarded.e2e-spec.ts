import { eventually } from '../../tools/eventually';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { CDC_OFF, waitForCdc } from '../harness/cdc';
import { useTestContext } from '../harness/test-context';
import { appReader, catalogUrls, Reader, seedCatalog, warm } from './support';

/** No relay: what is captured waits in the outbox, as while every relay is down. */
const SUBSCRIBER_ONLY = { CDC_RELAY: 'false', CDC_SUBSCRIBER: 'true' } as const;
const RELAY_ONLY = { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false' } as const;

/**
 * docs/contract.md §6.1 "Outbox rows discarded": an operator facing a large backlog may clear it by hand
 * (`DELETE FROM cdc.outbox`, `TRUNCATE cdc.outbox`, or marking it published). The changes those rows described
 * would then never reach a cache. Statement triggers on the outbox write a `truncated` event for each domain that lost an unpublished
 * row (every captured domain for a TRUNCATE), in the same transaction, so the views go instead.
 */
describe('CDC: unpublished outbox rows discarded by hand', () => {
  const ctx = useTestContext();
  let subscriber: NestFastifyApplication;
  let cached: Reader;

  beforeAll(async () => {
    subscriber = await ctx().startBff(SUBSCRIBER_ONLY);
    cached = appReader(await ctx().startBff(CDC_OFF));
  });

  /** A product renamed while no relay runs, its views cached before; the rename's outbox row waits unpublished. */
  async function renamedUnpublished() {
    const relay = await ctx().startBff(RELAY_ONLY);
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    await waitForCdc(relay);
    await relay.close();
    ctx().apps.splice(ctx().apps.indexOf(relay), 1);
    const urls = catalogUrls(seeded);
    await warm(cached, urls);
    const product = seeded.products[0];
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Discarded rename' WHERE id = $1`, [product.id]);
    const { rows } = await ctx().sql.query(`SELECT count(*)::int AS n FROM cdc.outbox WHERE published_at IS NULL`);
    expect(rows[0].n).toBeGreaterThan(0);
    return { url: `/catalog/products/${product.id}` };
  }

  /** What waits unpublished now: exactly the event the discard wrote, dropping the catalog's products. */
  async function expectOnlyProductsDropped(source: string): Promise<void> {
    const { rows } = await ctx().sql.query(
      `SELECT type, aggregate_id, source FROM cdc.outbox WHERE published_at IS NULL ORDER BY type`,
    );
    expect(rows).toEqual([{ type: 'catalog.product.truncated', aggregate_id: '*', source }]);
  }

  async function freshOnceARelayRuns(url: string): Promise<void> {
    await ctx().startBff(RELAY_ONLY);
    await eventually(async () => expect((await cached(url)).body).toMatchObject({ name: 'Discarded rename' }));
    await waitForCdc(subscriber);
  }

  it('DELETE FROM cdc.outbox WHERE published_at IS NULL drops the domains of the rows it deleted', async () => {
    const { url } = await renamedUnpublished();
    // Twice in one transaction: the second DELETE removes the first one's event, and writes its own.
    const client = await ctx().sql.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DELETE FROM cdc.outbox WHERE published_at IS NULL`);
      await client.query(`DELETE FROM cdc.outbox WHERE published_at IS NULL`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await expectOnlyProductsDropped('postgres:cdc.outbox (rows deleted unpublished)');
    await freshOnceARelayRuns(url);
  });

  it('UPDATE cdc.outbox SET published_at = now() (a backlog marked done by hand) drops their domains too', async () => {
    const { url } = await renamedUnpublished();
    await ctx().sql.query(`UPDATE cdc.outbox SET published_at = now() WHERE published_at IS NULL`);
    await expectOnlyProductsDropped('postgres:cdc.outbox (rows marked published by hand)');
    await freshOnceARelayRuns(url);
  });

  it('TRUNCATE cdc.outbox drops every captured domain', async () => {
    const { url } = await renamedUnpublished();
    await ctx().sql.query(`TRUNCATE cdc.outbox`);
    const { rows } = await ctx().sql.query(`SELECT DISTINCT split_part(type, '.', 1) AS domain FROM cdc.outbox`);
    expect(rows.map((r) => r.domain).sort()).toEqual(['catalog', 'orders']);
    await freshOnceARelayRuns(url);
  });

  it('the relay marking and pruning rows writes nothing', async () => {
    // Every row so far was published by a relay: had its marks counted as by hand, events would be left unpublished.
    const { rows: unpublished } = await ctx().sql.query(
      `SELECT count(*)::int AS n FROM cdc.outbox WHERE published_at IS NULL`,
    );
    expect(unpublished[0].n).toBe(0);
    const before = (await ctx().sql.query(`SELECT count(*)::int AS n FROM cdc.outbox`)).rows[0].n as number;
    expect(before).toBeGreaterThan(0);
    await ctx().sql.query(`DELETE FROM cdc.outbox WHERE published_at IS NOT NULL`);
    const { rows } = await ctx().sql.query(`SELECT count(*)::int AS n FROM cdc.outbox`);
    expect(rows[0].n).toBe(0);
  });
});
