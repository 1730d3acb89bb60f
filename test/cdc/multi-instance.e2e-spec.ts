import { setTimeout as sleep } from 'node:timers/promises';
import { CdcHealthService } from '@app/cdc';
import { CDC_OFF, waitForCdc } from '../harness/cdc';
import { call, json } from '../harness/http';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useSeededBff } from '../harness/seeded-bff';
import {
  appReader,
  backlog,
  catalogUrls,
  expectViewsEqual,
  Reader,
  seedCatalog,
  SHIPPING,
  uniq,
  ViewRead,
  warm,
} from './support';

/**
 * docs/contract.md §1 (apps/cache-sync), §9.1–9.2: two BFF instances with CDC_RELAY=false
 * CDC_SUBSCRIBER=false and the relay + subscriber in a separate cache-sync
 * process. A change committed by any means shows in both instances' next
 * reads, L1 included, and after concurrent reads and writes on both instances
 * every cached view equals the database once the lag is 0.
 */
describe('CDC with BFF instances and a separate cache-sync process', () => {
  // Declared before the BFFs' fixture, so the child dies before its database is dropped.
  const procs = useChildProcesses();
  let sync: ChildApp;
  const suite = useSeededBff({
    before: async (ctx) => {
      sync = await procs.start(
        'cache-sync',
        ctx.env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CONSUMER_NAME: 'sync-child' }),
        { name: 'cache-sync child' },
      );
    },
    instances: [CDC_OFF, CDC_OFF],
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 3),
    settle: () => settle(),
    timeoutMs: 60_000,
  });
  const readers = (): Reader[] => suite.apps.map(appReader);
  const source: Reader = (url) => appReader(suite.truth)(url);

  async function settle(): Promise<void> {
    await waitForCdc(suite.bff, 20_000).catch((err: Error) => {
      throw sync.error(err.message);
    });
  }

  /** Warms `urls` on both instances, writes, waits for the lag to reach 0; answers both instances' reads (checked against the source). */
  async function change(views: string[], write: () => Promise<unknown>): Promise<Record<string, ViewRead>[]> {
    const [one, two] = readers();
    for (const r of [one, two]) await warm(r, views);
    await write();
    await settle();
    return [await expectViewsEqual(one, source, views), await expectViewsEqual(two, source, views)];
  }

  const notFromL1 = (reads: Record<string, ViewRead>[], url: string) => reads.map((r) => r[url].cache !== 'HIT-L1');

  it('an API write on instance 1 reaches instance 2 (and instance 1)', async () => {
    const p = suite.seeded.products[0];
    const url = `/catalog/products/${p.id}`;
    const reads = await change([url, '/catalog/categories'], async () => {
      const res = await call(suite.apps[0], 'PATCH', url, { name: 'Written on instance 1', active: false });
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
    const p = suite.seeded.products[1];
    const views = [
      `/catalog/products/${p.id}`,
      `/catalog/products/${p.id}/availability`,
      `/catalog/categories/${suite.seeded.categories[0].slug}/products`,
    ];
    const reads = await change(views, async () => {
      await suite.ctx.sql.query(`UPDATE catalog.products SET price_cents = 4242 WHERE id = $1`, [p.id]);
      await suite.ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = 3 WHERE product_id = $1`, [p.id]);
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
      const res = await call(suite.apps[1], 'POST', '/orders', {
        accountId: account,
        currency: 'EUR',
        customerEmail: 'm@example.com',
        shippingAddress: SHIPPING,
        items: [{ productId: suite.seeded.products[3].id, quantity: 2 }],
      });
      expect(res.statusCode).toBe(201);
      orderId = json(res).id;
    });
    expect(reads[0][summaries].body).toMatchObject([{ id: orderId, itemCount: 1 }]);
    const detail = `/orders/${orderId}`;
    reads = await change([summaries, detail], () =>
      suite.ctx.sql.query(`UPDATE orders.order_items SET quantity = 5 WHERE order_id = $1`, [orderId]),
    );
    expect(notFromL1(reads, detail)).toEqual([true, true]);
    expect(reads[0][detail].body).toMatchObject({ items: [{ quantity: 5 }] });
  });

  it('after concurrent reads and writes on both instances (API on each, plain SQL), every cached view equals the database', async () => {
    const urls = catalogUrls(suite.seeded);
    const [one, two] = readers();
    for (const r of [one, two]) await warm(r, urls);
    let running = true;
    const errors: string[] = [];
    const readLoop = async (reader: Reader) => {
      while (running) {
        for (const url of urls) {
          const res = await reader(url);
          if (res.status >= 500) errors.push(`${url}: ${res.status}`);
        }
        await sleep(1); // a yield, not a wait: L1 hits never leave the microtask queue; let the sockets breathe
      }
    };
    const writeLoop = async (i: number) => {
      for (let n = 0; running; n++) {
        const p = suite.seeded.products[(n * 2 + i) % suite.seeded.products.length];
        if (i < 2) {
          const res = await call(suite.apps[i], 'PATCH', `/catalog/products/${p.id}`, {
            priceCents: 100 + n,
            active: n % 3 !== 0,
          });
          if (res.statusCode !== 200) errors.push(`PATCH ${res.statusCode} ${res.body}`);
        } else {
          await suite.ctx.sql.query(`UPDATE catalog.products SET name = $2, category_id = $3 WHERE id = $1`, [
            p.id,
            `Concurrent ${n}`,
            suite.seeded.categories[n % 2].id,
          ]);
          await suite.ctx.sql.query(`UPDATE catalog.stock_levels SET quantity = $2 WHERE product_id = $1`, [p.id, n]);
        }
        await sleep(3); // load pacing: a write every few ms per writer, not a flood
      }
    };
    const loops = [readLoop(one), readLoop(two), writeLoop(0), writeLoop(1), writeLoop(2)];
    // Time must pass: the load runs for 2 s, then everything settles and is compared.
    await sleep(2000);
    running = false;
    await Promise.all(loops);
    expect(errors).toEqual([]);
    await settle();
    await expectViewsEqual(one, source, urls);
    await expectViewsEqual(two, source, urls);
    expect(sync.running).toBe(true);
  }, 30_000);

  it('cache-sync stops cleanly on SIGTERM: relay lock released, nothing left pending; later writes wait in the outbox', async () => {
    const exit = await sync.kill('SIGTERM');
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    expect(sync.output).toMatch(/stepped down as outbox relay/);
    const { rows } = await suite.ctx.sql.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()`,
    );
    expect(Number(rows[0].count)).toBe(0);
    const pending = (await suite.apps[0].get(CdcHealthService).streams()) as Record<
      string,
      { pending: number; lag: number | null }
    >;
    expect(Object.values(pending).map((s) => [s.pending, s.lag])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'Nobody relays this' WHERE id = $1`, [
      suite.seeded.products[0].id,
    ]);
    // Time must pass to show that nothing happens: longer than a relay's poll period (1 s), and no relay runs.
    await sleep(1500);
    expect(await backlog(suite.ctx.sql)).toBe(1);
  });
});
