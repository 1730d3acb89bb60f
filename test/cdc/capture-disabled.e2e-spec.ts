import { execFileSync } from 'node:child_process';
import { eventually } from '../../tools/eventually';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { CREATE_CAPTURE_RESUMED_TRIGGER } from '../../apps/bff/src/migrations/1763700800000-capture-resumed';
import { waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useTestContext } from '../harness/test-context';
import { catalogUrls, expectViewsEqual, Reader, seedCatalog, startCdcInstances, warm } from './support';

/**
 * docs/contract.md §6.1 "Capture switched off": an operator's bulk load often starts with
 * `ALTER TABLE … DISABLE TRIGGER ALL`. While a captured table's capture triggers are off, changes to it
 * reach no outbox and no cache: /health says so (503, `cdc` down, /health/cdc `capture.off`). When they are
 * enabled again, the ALTER TABLE itself emits `<domain>.<aggregate>.truncated` (an event trigger), so
 * everything changed meanwhile is dropped from every instance, with no further write.
 */
describe('CDC: capture triggers switched off and on again', () => {
  const ctx = useTestContext();
  let reader: NestFastifyApplication;
  let cached: Reader;
  let cachedOther: Reader;
  let source: Reader;

  beforeAll(async () => {
    ({ reader, cached, cachedOther, source } = await startCdcInstances(ctx()));
  });

  const capture = async (): Promise<{ off: string[]; resumeDrops: boolean }> =>
    json(await call(reader, 'GET', '/health/cdc')).capture;
  const captureOff = async (): Promise<string[]> => (await capture()).off;

  it('/health reports the table while its capture is off; enabling it again drops what changed meanwhile', async () => {
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    await waitForCdc(reader);
    const urls = catalogUrls(seeded);
    for (const read of [cached, cachedOther]) await warm(read, urls);
    expect(await capture()).toEqual({ off: [], resumeDrops: true });

    await ctx().sql.query(`ALTER TABLE catalog.products DISABLE TRIGGER ALL`);
    expect(await captureOff()).toEqual(['catalog.products']);
    const health = await call(reader, 'GET', '/health');
    expect(health.statusCode).toBe(503);
    expect(json(health).error.cdc.message).toContain(
      'capture is off on catalog.products (its capture triggers are disabled or dropped)',
    );

    // Unseen by CDC: nothing reaches the outbox while the triggers are off.
    const [renamed] = seeded.products;
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Loaded without capture' WHERE id = $1`, [renamed.id]);
    // The window the operator opened: nothing has dropped the view, both instances still serve the old name.
    await waitForCdc(reader);
    for (const read of [cached, cachedOther]) {
      expect(await read(`/catalog/products/${renamed.id}`)).toMatchObject({
        cache: 'HIT-L1',
        body: { name: 'Product 0-0' },
      });
    }
    await ctx().sql.query(`ALTER TABLE catalog.products ENABLE TRIGGER ALL`);
    expect(await captureOff()).toEqual([]);
    await waitForCdc(reader);

    for (const read of [cached, cachedOther]) {
      await eventually(async () =>
        expect((await read(`/catalog/products/${renamed.id}`)).body).toMatchObject({ name: 'Loaded without capture' }),
      );
      await expectViewsEqual(read, source, urls);
    }
    expect((await call(reader, 'GET', '/health')).statusCode).toBe(200);
  });

  it('a table restored in place from `pg_dump --data-only --disable-triggers` shows the restored rows', async () => {
    const seeded = await seedCatalog(ctx().sql, 1, 3);
    const ids = seeded.products.map((p) => p.id);
    // Yesterday's rows, as pg_dump writes them: the data between DISABLE and ENABLE TRIGGER ALL.
    const dump = execFileSync('pg_dump', [
      '--data-only',
      '--disable-triggers',
      '--table=catalog.products',
      ctx().databaseUrl,
    ]);
    await ctx().sql.query(`UPDATE catalog.products SET name = name || ' (renamed)' WHERE id = ANY($1)`, [ids]);
    await waitForCdc(reader);
    const urls = catalogUrls(seeded);
    for (const read of [cached, cachedOther]) await warm(read, urls);
    expect((await cached(`/catalog/products/${ids[0]}`)).body).toMatchObject({
      name: expect.stringMatching(/renamed/),
    });

    // The operator's restore in place: capture off before the table is emptied, so only the dump's ENABLE says so.
    const restore = Buffer.concat([
      Buffer.from('ALTER TABLE catalog.products DISABLE TRIGGER ALL;\nDELETE FROM catalog.products;\n'),
      dump,
    ]);
    execFileSync('psql', ['--single-transaction', '--set=ON_ERROR_STOP=1', '--quiet', ctx().databaseUrl], {
      input: restore,
    });
    await waitForCdc(reader);

    for (const read of [cached, cachedOther]) {
      await eventually(async () =>
        expect((await read(`/catalog/products/${ids[0]}`)).body).toMatchObject({ name: 'Product 0-0' }),
      );
      await expectViewsEqual(read, source, urls);
    }
  });

  it('one capture trigger disabled is enough to report the table', async () => {
    await ctx().sql.query(`ALTER TABLE catalog.stock_levels DISABLE TRIGGER capture_update`);
    try {
      expect(await captureOff()).toEqual(['catalog.stock_levels']);
    } finally {
      await ctx().sql.query(`ALTER TABLE catalog.stock_levels ENABLE TRIGGER capture_update`);
    }
    expect(await captureOff()).toEqual([]);
  });

  it('a capture trigger dropped is reported too', async () => {
    const { rows } = await ctx().sql.query(
      `SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE tgname = 'capture_delete' AND tgrelid = 'orders.order_items'::regclass`,
    );
    await ctx().sql.query(`DROP TRIGGER capture_delete ON orders.order_items`);
    try {
      expect(await captureOff()).toEqual(['orders.order_items']);
    } finally {
      await ctx().sql.query(rows[0].def as string);
    }
    expect(await captureOff()).toEqual([]);
  });

  it('/health/cdc says when the event trigger is missing (a migration run by a non-superuser skips it)', async () => {
    await ctx().sql.query(`DROP EVENT TRIGGER cachegate_capture_resumed`);
    try {
      expect(await capture()).toEqual({ off: [], resumeDrops: false });
    } finally {
      await ctx().sql.query(CREATE_CAPTURE_RESUMED_TRIGGER);
    }
    expect(await capture()).toEqual({ off: [], resumeDrops: true });
  });
});
