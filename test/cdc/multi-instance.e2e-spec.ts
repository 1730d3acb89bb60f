import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useTestContext } from '../harness/test-context';
import { CdcHealthService } from '@app/cdc';
import {
  appReader,
  backlog,
  catalogUrls,
  CDC_OFF,
  expectViewsEqual,
  Reader,
  SeededCatalog,
  seedCatalog,
  SHIPPING,
  TRUTH_ENV,
  uniq,
  ViewRead,
  warm,
} from './support';

/**
 * SPEC §1 (apps/cache-sync), §9.1–9.2: two BFF instances with CDC_RELAY=false
 * CDC_SUBSCRIBER=false and the relay + subscriber in a separate cache-sync
 * process. A change committed by any means shows in both instances' next
 * reads, L1 included, and after concurrent reads and writes on both instances
 * every cached view equals the database once the lag is 0.
 */
describe('CDC with BFF instances and a separate cache-sync process', () => {
  const procs = useChildProcesses();
  const ctx = useTestContext();
  let sync: ChildApp;
  let apps: NestFastifyApplication[];
  let readers: Reader[];
  let source: Reader;
  let seeded: SeededCatalog;
  let urls: string[];

  beforeAll(async () => {
    sync = await procs.start(
      'cache-sync',
      ctx().env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CONSUMER_NAME: 'sync-child' }),
      {
        name: 'cache-sync child',
      },
    );
    apps = [await ctx().startBff(CDC_OFF), await ctx().startBff(CDC_OFF)];
    readers = apps.map(appReader);
    source = appReader(await ctx().startBff(TRUTH_ENV));
    seeded = await seedCatalog(ctx().sql, 2, 3);
    urls = catalogUrls(seeded);
    await settle();
  }, 60_000);

  async function settle(): Promise<void> {
    await waitForCdc(apps[0], 20_000).catch((err: Error) => {
      throw sync.error(err.message);
    });
  }

  /** Warms `urls` on both instances, writes, waits for the lag to reach 0; answers both instances' reads (checked against the source). */
  async function change(views: string[], write: () => Promise<unknown>): Promise<Record<string, ViewRead>[]> {
    for (const r of readers) await warm(r, views);
    await write();
    await settle();
    return [await expectViewsEqual(readers[0], source, views), await expectViewsEqual(readers[1], source, views)];
  }

  const notFromL1 = (reads: Record<string, ViewRead>[], url: string) => reads.map((r) => r[url].cache !== 'HIT-L1');

  it('an API write on instance 1 reaches instance 2 (and instance 1)', async () => {
    const p = seeded.products[0];
    const url = `/catalog/products/${p.id}`;
    const reads = await change([url, '/catalog/categories'], async () => {
      const res = await call(apps[0], 'PATCH', url, { name: 'Written on instance 1', active: false });
      expect(res.statusCode).toBe(200);
    });
    expect(reads.map((r) => r[url].body)).toEqual([
      expect.objectContaining({ name: 'Written on instance 1' }),
      expect.objectContaining({ name: 'Written on instance 1' }),
    ]);
    expect(notFromL1(reads, url)).toEqual([true, true]);
    expect(notFromL1(reads, '/catalog/categories')).toEqual([true, true]);
  });

  it('a plain-SQL write reaches both instances, L1 included', async () => {
    const p = seeded.products[1];
    const views = [
      `/catalog/products/${p.id}`,
      `/catalog/products/${p.id}/availability`,
      `/catalog/categories/${seeded.categories[0].slug}/products`,
    ];
    const reads = await change(views, async () => {
      await ctx().sql.query(`UPDATE catalog.products SET price_cents = 4242 WHERE id = $1`, [p.id]);
      await ctx().sql.query(`UPDATE catalog.stock_levels SET quantity = 3 WHERE product_id = $1`, [p.id]);
    });
    for (const url of views) expect(notFromL1(reads, url)).toEqual([true, true]);
    expect(reads[1][views[0]].body).toMatchObject({ priceCents: 4242 });
    expect(reads[1][views[1]].body).toMatchObject({ quantity: 3 });
  });

  it('orders written on instance 2 and by SQL reach instance 1', async () => {
    const account = `acc-${uniq()}`;
    const summaries = `/accounts/${account}/orders`;
    let orderId = '';
    let reads = await change([summaries], async () => {
      const res = await call(apps[1], 'POST', '/orders', {
        accountId: account,
        currency: 'EUR',
        customerEmail: 'm@example.com',
        shippingAddress: SHIPPING,
        items: [{ productId: seeded.products[3].id, quantity: 2 }],
      });
      expect(res.statusCode).toBe(201);
      orderId = json(res).id;
    });
    expect(reads[0][summaries].body).toMatchObject([{ id: orderId, itemCount: 1 }]);
    const detail = `/orders/${orderId}`;
    reads = await change([summaries, detail], () =>
      ctx().sql.query(`UPDATE orders.order_items SET quantity = 5 WHERE order_id = $1`, [orderId]),
    );
    expect(notFromL1(reads, detail)).toEqual([true, true]);
    expect(reads[0][detail].body).toMatchObject({ items: [{ quantity: 5 }] });
  });

  it('after concurrent reads and writes on both instances (API on each, plain SQL), every cached view equals the database', async () => {
    for (const r of readers) await warm(r, urls);
    let running = true;
    const errors: string[] = [];
    const readLoop = async (reader: Reader) => {
      while (running) {
        for (const url of urls) {
          const res = await reader(url);
          if (res.status >= 500) errors.push(`${url}: ${res.status}`);
        }
        await sleep(1); // L1 hits never leave the microtask queue: let the sockets breathe
      }
    };
    const writeLoop = async (i: number) => {
      for (let n = 0; running; n++) {
        const p = seeded.products[(n * 2 + i) % seeded.products.length];
        if (i < 2) {
          const res = await call(apps[i], 'PATCH', `/catalog/products/${p.id}`, {
            priceCents: 100 + n,
            active: n % 3 !== 0,
          });
          if (res.statusCode !== 200) errors.push(`PATCH ${res.statusCode} ${res.body}`);
        } else {
          await ctx().sql.query(`UPDATE catalog.products SET name = $2, category_id = $3 WHERE id = $1`, [
            p.id,
            `Concurrent ${n}`,
            seeded.categories[n % 2].id,
          ]);
          await ctx().sql.query(`UPDATE catalog.stock_levels SET quantity = $2 WHERE product_id = $1`, [p.id, n]);
        }
        await sleep(3);
      }
    };
    const loops = [readLoop(readers[0]), readLoop(readers[1]), writeLoop(0), writeLoop(1), writeLoop(2)];
    await sleep(2000);
    running = false;
    await Promise.all(loops);
    expect(errors).toEqual([]);
    await settle();
    await expectViewsEqual(readers[0], source, urls);
    await expectViewsEqual(readers[1], source, urls);
    expect(sync.running).toBe(true);
  }, 30_000);

  it('cache-sync stops cleanly on SIGTERM: relay lock released, nothing left pending; later writes wait in the outbox', async () => {
    const exit = await sync.kill('SIGTERM');
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    expect(sync.output).toMatch(/stepped down as outbox relay/);
    const { rows } = await ctx().sql.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
    );
    expect(Number(rows[0].count)).toBe(0);
    const pending = (await apps[0].get(CdcHealthService).streams()) as Record<
      string,
      { pending: number; lag: number | null }
    >;
    expect(Object.values(pending).map((s) => [s.pending, s.lag])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Nobody relays this' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    await sleep(1500);
    expect(await backlog(ctx().sql)).toBe(1);
  });
});
