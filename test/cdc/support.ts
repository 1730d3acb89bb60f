import { randomBytes } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { call } from '../harness/http';
import { CONSUMER_GROUP } from '@app/cdc';
import { eventually } from '../../tools/eventually';
import { CDC_OFF, CDC_ON, TRUTH_ENV } from '../harness/cdc';
import type { ChildApp } from '../harness/processes';
import type { TestContext } from '../harness/test-context';
import { rawRedis } from '../harness/test-redis';

/** Shared by the test/cdc suites: seeding by plain SQL, reading views, and comparing cached views with the source. */

export interface ViewRead {
  status: number;
  body: unknown;
  cache: string | undefined;
}
export type Reader = (url: string) => Promise<ViewRead>;

export function appReader(app: NestFastifyApplication): Reader {
  return async (url) => {
    const res = await call(app, 'GET', url);
    return { status: res.statusCode, body: parse(res.body), cache: header(res.headers['x-cache']) };
  };
}

/**
 * Two BFFs on one prefix and what the source says: `reader` runs the relay and the subscriber, so plain SQL
 * reaches the caches only through the pipeline; the other (`cachedOther`) runs no CDC, so its L1 is cleared
 * only by the invalidation channel.
 */
export interface CdcInstances {
  reader: NestFastifyApplication;
  cached: Reader;
  cachedOther: Reader;
  source: Reader;
}

export async function startCdcInstances(ctx: TestContext): Promise<CdcInstances> {
  const reader = await ctx.startBff(CDC_ON);
  const cachedOther = appReader(await ctx.startBff(CDC_OFF));
  const source = appReader(await ctx.startBff(TRUTH_ENV));
  return { reader, cached: appReader(reader), cachedOther, source };
}

export function childReader(child: ChildApp): Reader {
  return async (url) => {
    const res = await fetch(child.url + url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: parse(await res.text()), cache: res.headers.get('x-cache') ?? undefined };
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function header(value: string | string[] | number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/**
 * Reads every url from the cached instance and from the source; fails naming
 * each view that differs. Answers the cached reads (their X-Cache included).
 */
export async function expectViewsEqual(
  cached: Reader,
  truth: Reader,
  urls: string[],
): Promise<Record<string, ViewRead>> {
  const reads: Record<string, ViewRead> = {};
  const differences: string[] = [];
  for (const url of urls) {
    const [c, t] = await Promise.all([cached(url), truth(url)]);
    reads[url] = c;
    if (c.status !== t.status || JSON.stringify(c.body) !== JSON.stringify(t.body)) {
      differences.push(
        `${url} (X-Cache ${c.cache}):\n  cached ${c.status} ${JSON.stringify(c.body)}\n  source ${t.status} ${JSON.stringify(t.body)}`,
      );
    }
  }
  if (differences.length > 0) throw new Error(`cached views differ from the source:\n${differences.join('\n')}`);
  return reads;
}

/** Reads every url twice so that it is in L2 and in this instance's L1; checks the second read was an L1 hit. */
export async function warm(reader: Reader, urls: string[]): Promise<void> {
  for (const url of urls) {
    const first = await reader(url);
    if (first.status !== 200) throw new Error(`warming ${url}: ${first.status} ${JSON.stringify(first.body)}`);
    const second = await reader(url);
    if (second.cache !== 'HIT-L1') throw new Error(`warming ${url}: second read was ${second.cache}, not HIT-L1`);
  }
}

export const uniq = () => randomBytes(4).toString('hex');

export interface SeededCatalog {
  categories: { id: string; slug: string }[];
  products: { id: string; categoryId: string }[];
}

/** Categories and products (with stock) written by plain SQL, as another program would. */
export async function seedCatalog(sql: Pool, categories = 2, productsPerCategory = 3): Promise<SeededCatalog> {
  const seeded: SeededCatalog = { categories: [], products: [] };
  const t = uniq();
  for (let c = 0; c < categories; c++) {
    const slug = `cat-${t}-${c}`;
    const { rows } = await sql.query<{ id: string }>(
      `INSERT INTO catalog.categories (slug, name) VALUES ($1, $2) RETURNING id`,
      [slug, `Category ${t} ${c}`],
    );
    seeded.categories.push({ id: rows[0].id, slug });
    for (let p = 0; p < productsPerCategory; p++) {
      const { rows: product } = await sql.query<{ id: string }>(
        `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
         VALUES ($1, $2, $3, 'EUR', $4) RETURNING id`,
        [`SKU-${t}-${c}-${p}`.toUpperCase(), `Product ${c}-${p}`, 100 + p, rows[0].id],
      );
      await sql.query(`INSERT INTO catalog.stock_levels (product_id, quantity) VALUES ($1, 50)`, [product[0].id]);
      seeded.products.push({ id: product[0].id, categoryId: rows[0].id });
    }
  }
  return seeded;
}

/** Every cached catalog view of a seeded catalog. */
export function catalogUrls(seeded: SeededCatalog): string[] {
  return [
    '/catalog/categories',
    ...seeded.categories.map((c) => `/catalog/categories/${c.slug}/products`),
    ...seeded.products.flatMap((p) => [`/catalog/products/${p.id}`, `/catalog/products/${p.id}/availability`]),
  ];
}

export const SHIPPING = { name: 'Ada', line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

export { rawRedis };

export interface StreamEvent {
  entryId: string;
  fields: Record<string, string>;
  event: any;
}

/** XRANGE of a whole stream, with the `event` field parsed when it is JSON. */
export async function readStream(redis: Pick<Redis, 'xrange'>, stream: string): Promise<StreamEvent[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([entryId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length - 1; i += 2) fields[flat[i]] = flat[i + 1];
    let event: unknown;
    try {
      event = JSON.parse(fields.event);
    } catch {
      event = fields.event;
    }
    return { entryId, fields, event };
  });
}

/**
 * Reads, as `consumer` of the group, every entry of `streams` not yet delivered to the group (and acknowledges
 * none): what a consumer that then dies has read. One XREADGROUP per stream: a command's keys must share a hash
 * slot on a Redis Cluster, and the streams are on different ones. Answers the entries' parsed events.
 */
export async function readAsConsumer(redis: Redis, consumer: string, streams: string[]): Promise<any[]> {
  const events: any[] = [];
  for (const stream of streams) {
    const read = (await redis.xreadgroup('GROUP', CONSUMER_GROUP, consumer, 'COUNT', 1000, 'STREAMS', stream, '>')) as
      [string, [string, string[]][]][] | null;
    for (const [, entries] of read ?? []) events.push(...entries.map(([, fields]) => JSON.parse(fields[1])));
  }
  return events;
}

/** Unpublished outbox rows (the relay backlog), straight from Postgres. */
export async function backlog(sql: Pool): Promise<number> {
  return Number((await sql.query(`SELECT count(*) FROM cdc.outbox WHERE published_at IS NULL`)).rows[0].count);
}

/** Pending entries of the consumer group per consumer, summed over the streams (a missing stream counts 0). */
export async function pendingByConsumer(redis: Redis, streams: string[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const stream of streams) {
    const summary = (await redis.xpending(stream, CONSUMER_GROUP).catch(() => [0, null, null, null])) as [
      number,
      string | null,
      string | null,
      [string, string][] | null,
    ];
    for (const [consumer, count] of summary[3] ?? []) result[consumer] = (result[consumer] ?? 0) + Number(count);
  }
  return result;
}

/**
 * Catches a child consumer holding at least `atLeast` delivered, unacknowledged entries and leaves it
 * frozen (SIGSTOP) so it cannot acknowledge them before the caller SIGKILLs it. A batch is acked soon
 * after it is read, so the child is frozen before each count; one caught between batches is let go
 * (SIGCONT) and caught again. Answers the pending counts at the freeze.
 */
export async function freezeHoldingEntries(
  child: ChildApp,
  redis: Redis,
  streams: string[],
  options: { consumer: string; atLeast: number; timeoutMs: number },
): Promise<Record<string, number>> {
  let atFreeze: Record<string, number> = {};
  await eventually(
    async () => {
      process.kill(child.pid, 'SIGSTOP');
      atFreeze = await pendingByConsumer(redis, streams);
      if ((atFreeze[options.consumer] ?? 0) >= options.atLeast) return true;
      process.kill(child.pid, 'SIGCONT');
      return false;
    },
    {
      timeoutMs: options.timeoutMs,
      intervalMs: 1, // a batch is held only while it is applied: look as often as possible
      message: `${options.consumer} to hold ${options.atLeast} unacknowledged entries`,
    },
  ).catch((err: Error) => {
    throw child.error(err.message);
  });
  return atFreeze;
}
