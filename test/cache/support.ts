import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { L1Cache } from '@app/cache';
import { waitForCdc } from '../harness/cdc';
import { createCategory, createOrder, createProduct, expectStatus, tag } from '../harness/fixtures';
import { Gate } from '../harness/gate';
import { call, json, Response } from '../harness/http';
import { rawRedis } from '../harness/test-redis';

/** Shared by the test/cache suites: reading cache headers, settling, holding source reads open, seeding. */

export type App = NestFastifyApplication;

export function xcache(res: Response): string | undefined {
  const value = res.headers['x-cache'];
  return value === undefined ? undefined : String(value);
}

export async function get(app: App, url: string, headers: Record<string, string> = {}): Promise<Response> {
  return call(app, 'GET', url, undefined, headers);
}

/** A GET that must answer 200; returns the response. */
export async function get200(app: App, url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await get(app, url, headers);
  expectStatus(res, 200);
  return res;
}

type AsyncMethodKeys<T> = { [K in keyof T]: T[K] extends (...args: any[]) => Promise<any> ? K : never }[keyof T];

export interface HeldSource {
  /** Every call (the held one and those that went straight through): `spy.mock.calls.length` = source reads. */
  spy: jest.SpyInstance;
  /** Resolves once the held call has read the source (what it will return or throw is fixed from then on). */
  read: Promise<void>;
  /** Lets the held call return (or throw). */
  release: () => void;
}

/**
 * Holds the first call of a source method open: it reads the source for real,
 * then waits until `release()`, also when the read failed. Later calls go
 * straight through. This makes the window between a fill's source read (t1)
 * and its cache write (t2) as long as the test wants (docs/contract.md §5.4), and keeps a
 * fill in flight until every request meant to join it has (coalescing).
 */
export function holdFirstCall<T extends object, K extends AsyncMethodKeys<T>>(target: T, method: K): HeldSource {
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  const read = new Gate();
  const release = new Gate();
  let first = true;
  const spy = jest.spyOn(target as any, method as any).mockImplementation((async (...args: unknown[]) => {
    if (!first) return original(...args);
    first = false;
    const outcome = await original(...args).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    read.open();
    await release.promise;
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }) as any);
  return { spy, read: read.promise, release: () => release.open() };
}

/**
 * Settles with `promise`'s value, or with 'pending' if it has not settled within `ms`: a bound on how long
 * something may take (a test then fails on 'pending'), never a wait for something to happen.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  const timer = sleep(ms, 'pending' as const, { ref: false });
  return Promise.race([promise, timer]);
}

export async function cacheStats(app: App, domain: 'catalog' | 'orders'): Promise<any> {
  return json(await get200(app, `/health/${domain}/cache`));
}

export type Counters = Record<
  'hits' | 'misses' | 'l1Hits' | 'l2Hits' | 'coalesced' | 'staleFillsDiscarded' | 'bypassed',
  number
>;

/** One bucket's counters now (from /health/<domain>/cache). */
export async function counters(app: App, domain: 'catalog' | 'orders', bucket: string): Promise<Counters> {
  return (await cacheStats(app, domain)).metrics[bucket];
}

/** Counter changes between two readings (only the fields that moved). */
export function delta(before: Counters, after: Counters): Partial<Counters> {
  const moved: Partial<Counters> = {};
  for (const field of Object.keys(after) as (keyof Counters)[]) {
    const d = after[field] - (before[field] ?? 0);
    if (d !== 0) moved[field] = d;
  }
  return moved;
}

/**
 * Waits until every change committed so far has been invalidated and every instance has heard of it: the cache
 * suites' name for waitForCdc (harness/cdc.ts). Writes invalidate only through the CDC pipeline
 * (docs/contract.md §1), a few milliseconds after they answered, so tests that expect exact X-Cache values or
 * counters after writing settle first.
 */
export async function settle(app: App): Promise<void> {
  await waitForCdc(app);
}

export function l1Of(app: App): L1Cache {
  return app.get(L1Cache);
}

/** One of everything the cached routes serve, created through `app`. */
export interface World {
  categoryId: string;
  slug: string;
  productId: string;
  orderId: string;
  accountId: string;
  /** The six cached GET routes (docs/contract.md §3), by bucket. */
  routes: Record<'product' | 'availability' | 'categories' | 'listing' | 'detail' | 'summaries', string>;
}

export async function seedWorld(app: App): Promise<World> {
  const category = await createCategory(app);
  const product = await createProduct(app, category.id, { stock: 50 });
  await createProduct(app, category.id, { stock: 5 });
  const accountId = `acct-${tag()}`;
  const order = await createOrder(app, [{ productId: product.id, quantity: 2 }], { accountId });
  return {
    categoryId: category.id,
    slug: category.slug,
    productId: product.id,
    orderId: order.id,
    accountId,
    routes: {
      product: `/catalog/products/${product.id}`,
      availability: `/catalog/products/${product.id}/availability`,
      categories: '/catalog/categories',
      listing: `/catalog/categories/${category.slug}/products`,
      detail: `/orders/${order.id}`,
      summaries: `/accounts/${accountId}/orders`,
    },
  };
}

/**
 * Runs statements in one transaction that change capture does not see
 * (`session_replication_role = replica` skips the capture triggers, the way a
 * logical-replication apply or a data-only restore writes): no outbox row, no
 * CDC event, so no cache is told. Needs a superuser (the test server's
 * `postgres`). For tests that must tell a hit from a refill, or announce a
 * change themselves without the pipeline announcing it too.
 */
export async function sqlUnseenByCdc(sql: Pool, statements: [text: string, params: unknown[]][]): Promise<void> {
  const client = await sql.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL session_replication_role = replica`);
    for (const [text, params] of statements) await client.query(text, params);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Changes, with plain SQL and without telling any cache (not even through
 * CDC: see sqlUnseenByCdc), something every one of the world's routes shows.
 */
export async function changeWorldBehindTheCache(sql: Pool, world: World): Promise<void> {
  const t = tag();
  await sqlUnseenByCdc(sql, [
    [`UPDATE catalog.products SET name = $2 WHERE id = $1`, [world.productId, `Renamed ${t}`]],
    [`UPDATE catalog.stock_levels SET quantity = quantity + 7 WHERE product_id = $1`, [world.productId]],
    [`UPDATE catalog.categories SET name = $2 WHERE id = $1`, [world.categoryId, `Category renamed ${t}`]],
    [
      `UPDATE orders.orders SET customer_email = $2, total_cents = total_cents + 1 WHERE id = $1`,
      [world.orderId, `changed-${t}@example.com`],
    ],
  ]);
}

export { call, json, Response, expectStatus, rawRedis, tag, waitForCdc };
