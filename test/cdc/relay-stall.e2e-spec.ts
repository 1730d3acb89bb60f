import { eventually, eventuallyValue } from '../../tools/eventually';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { OutboxRelay } from '@app/cdc';
import { waitForCdc, TRUTH_ENV } from '../harness/cdc';
import { call, json } from '../harness/http';
import { useChildProcesses } from '../harness/processes';
import { RedisServer } from '../../tools/redis-server';
import { TcpProxy } from '../../tools/tcp-proxy';
import { TestContext, useTestContext } from '../harness/test-context';
import { TEST_REDIS_URL } from '../harness/test-database';
import { proxyToTestRedis } from '../harness/test-redis';
import { appReader, backlog, catalogUrls, expectViewsEqual, rawRedis, readStream, seedCatalog, warm } from './support';

/**
 * docs/contract.md §6.1, a relay that holds leadership but cannot publish: the leader steps
 * down after CDC_RELAY_STALL_MS so a relay with a working Redis takes over, and
 * /health turns `cdc` down when changes stop flowing (CDC_LAG_ALERT_MS) or when
 * Redis refuses writes (OOM). Small values keep the tests short.
 */
const STALL_MS = 1000;
/** The relay's poll and lock-retry period (OutboxRelay's default). */
const POLL_MS = 1000;
/** Scheduling slack on a shared two-core machine (a child process, ts-node, several apps in one worker). */
const SLACK_MS = 750;

/** An in-process BFF whose every Redis connection goes through `proxy`: a relay (stall CDC_RELAY_STALL_MS), no subscriber. */
function relayBehind(
  ctx: TestContext,
  proxy: TcpProxy,
  env: Record<string, string> = {},
): Promise<NestFastifyApplication> {
  return ctx.startBff({
    CDC_RELAY: 'true',
    CDC_SUBSCRIBER: 'false',
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    CDC_RELAY_STALL_MS: String(STALL_MS),
    ...env,
  });
}

interface HealthBody {
  status: string;
  info: Record<string, { status: string }>;
  error: Record<string, { status: string; message?: string }>;
}

/** The /health body when it answers 503 (for `until`), else undefined. */
async function healthWhenDown(app: NestFastifyApplication): Promise<HealthBody | undefined> {
  const res = await call(app, 'GET', '/health');
  return res.statusCode === 503 ? json<HealthBody>(res) : undefined;
}

/** Unpublished outbox rows' event ids, in capture order. */
async function unpublishedEventIds(sql: Pool): Promise<string[]> {
  const { rows } = await sql.query<{ event_id: string }>(
    `SELECT event_id FROM cdc.outbox WHERE published_at IS NULL ORDER BY id`,
  );
  return rows.map((r) => r.event_id);
}

describe('a relay leader cut off from Redis (hung connection) steps down; one with a working Redis takes over', () => {
  // Children die first, then the context (apps, database) goes, then the proxy closes.
  const procs = useChildProcesses();
  const ctx = useTestContext();
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  /** Sessions holding the relay's advisory lock in this test's database. */
  async function lockHolders(): Promise<number> {
    const { rows } = await ctx().sql.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
          AND l.objid = (hashtext('cachegate:outbox-relay')::bigint & 4294967295)::oid`,
    );
    return Number(rows[0].count);
  }

  it('the partitioned leader releases its lock within CDC_RELAY_STALL_MS + a poll, the other relay publishes the change and the healthy instance serves it', async () => {
    proxy = await proxyToTestRedis();
    // The leader: a real process whose every Redis connection goes through the proxy; started first, so it leads.
    const partitioned = await procs.start(
      'bff',
      ctx().env({
        CDC_RELAY: 'true',
        CDC_SUBSCRIBER: 'false',
        CDC_CONSUMER_NAME: 'partitioned-relay',
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        CDC_RELAY_STALL_MS: String(STALL_MS),
      }),
      { name: 'partitioned relay' },
    );
    await partitioned.waitForLine(/this process is now the active outbox relay/);
    const healthy = await ctx().startBff({
      REDIS_URL: TEST_REDIS_URL,
      CDC_RELAY: 'true',
      CDC_SUBSCRIBER: 'true',
      CDC_CLAIM_IDLE_MS: '1000',
      CDC_RELAY_STALL_MS: String(STALL_MS),
    });
    const truth = await ctx().startBff({ ...TRUTH_ENV, REDIS_URL: TEST_REDIS_URL });
    const relay = healthy.get(OutboxRelay);

    // Before the partition the child publishes and the healthy instance applies.
    const seeded = await seedCatalog(ctx().sql, 1, 2);
    const urls = catalogUrls(seeded);
    await waitForCdc(healthy);
    await warm(appReader(healthy), urls);
    expect(relay.leader).toBe(false);
    expect(relay.published).toBe(0);
    expect(await lockHolders()).toBe(1);

    await proxy.hold();
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Committed during the partition' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    const committedAt = Date.now();
    const waiting = await unpublishedEventIds(ctx().sql);
    expect(waiting).toHaveLength(1);

    const line = await partitioned.waitForLine(/stepped down as outbox relay/, STALL_MS + POLL_MS + 10_000);
    const stepDownMs = Date.now() - committedAt;
    await eventually(() => relay.leader, {
      message: 'the healthy relay to take over',
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    const takeoverMs = Date.now() - committedAt;

    // One warn line that says why; and no stale view on the healthy instance.
    const entry = JSON.parse(line) as { level: number; msg: string };
    expect(entry.level).toBe(40);
    expect(entry.msg).toMatch(/could not publish/);
    expect(entry.msg).toMatch(/CDC_RELAY_STALL_MS=1000/);
    expect(partitioned.output.split('\n').filter((l) => /stepped down as outbox relay/.test(l))).toHaveLength(1);
    expect(stepDownMs).toBeGreaterThanOrEqual(STALL_MS - 50);
    expect(stepDownMs).toBeLessThan(STALL_MS + POLL_MS + SLACK_MS);
    expect(takeoverMs - stepDownMs).toBeLessThan(POLL_MS + SLACK_MS);
    expect(await lockHolders()).toBe(1);

    let views: Awaited<ReturnType<typeof expectViewsEqual>> = {};
    await eventually(
      async () => {
        views = await expectViewsEqual(appReader(healthy), appReader(truth), urls);
      },
      { timeoutMs: 5000 },
    );
    expect(views[urls[2]].body).toMatchObject({ name: 'Committed during the partition' });
    const invalidatedMs = Date.now() - committedAt;

    // Nothing lost: the row the old leader could not publish was published by the new one.
    expect(await backlog(ctx().sql)).toBe(0);
    expect(relay.published).toBeGreaterThanOrEqual(1);
    const direct = rawRedis(TEST_REDIS_URL);
    try {
      const published = (await readStream(direct, `${ctx().redisPrefix}cdc.catalog.v1`)).map((e) => e.event.id);
      expect(published).toEqual(expect.arrayContaining(waiting));
    } finally {
      direct.disconnect();
    }

    // The stepped-down process does not take the lock back from a leader that works.
    await proxy.release();
    await ctx().sql.query(`UPDATE catalog.products SET name = 'After the partition' WHERE id = $1`, [
      seeded.products[1].id,
    ]);
    await waitForCdc(healthy);
    expect(relay.leader).toBe(true);
    expect(await lockHolders()).toBe(1);
    await expectViewsEqual(appReader(healthy), appReader(truth), urls);
    if (process.env.CDC_TEST_VERBOSE) {
      process.stderr.write(
        `relay stall: stepped down ${stepDownMs} ms after the commit, taken over at ${takeoverMs} ms, ` +
          `view invalidated at ${invalidatedMs} ms (CDC_RELAY_STALL_MS=${STALL_MS})\n`,
      );
    }
  }, 90_000);
});

describe('no relay can publish: /health turns cdc down once the oldest unpublished change is older than CDC_LAG_ALERT_MS', () => {
  const LAG_ALERT_MS = 2500;
  const ctx = useTestContext(); // closed first: its apps still reach Redis through the proxy
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('a healthy instance reports the age of the oldest unpublished change and turns cdc down past the limit, up again once it is published', async () => {
    proxy = await proxyToTestRedis();
    // The only relay reaches Redis through the proxy; the observer (no relay) reaches it directly.
    const relayApp = await relayBehind(ctx(), proxy, { CDC_LAG_ALERT_MS: String(LAG_ALERT_MS) });
    await eventually(() => relayApp.get(OutboxRelay).leader, { message: 'the relay to lead', timeoutMs: 10_000 });
    const observer = await ctx().startBff({
      REDIS_URL: TEST_REDIS_URL,
      CDC_RELAY: 'false',
      CDC_SUBSCRIBER: 'true',
      CDC_CLAIM_IDLE_MS: '1000',
      CDC_RELAY_STALL_MS: String(STALL_MS),
      CDC_LAG_ALERT_MS: String(LAG_ALERT_MS),
    });
    const seeded = await seedCatalog(ctx().sql, 1, 1);
    await waitForCdc(observer);
    expect((await call(observer, 'GET', '/health')).statusCode).toBe(200);
    expect(json(await call(observer, 'GET', '/health/cdc')).relay).toMatchObject({
      backlog: 0,
      oldestUnpublishedAgeMs: null,
    });

    await proxy.hold();
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Nobody can publish this' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    const committedAt = Date.now();
    // A young backlog is no alert.
    const young = json(await call(observer, 'GET', '/health/cdc')).relay;
    expect(young.backlog).toBe(1);
    expect(young.oldestUnpublishedAgeMs).toEqual(expect.any(Number));
    expect(young.oldestUnpublishedAgeMs).toBeLessThan(LAG_ALERT_MS);
    expect((await call(observer, 'GET', '/health')).statusCode).toBe(200);

    const down = await eventuallyValue(() => healthWhenDown(observer), {
      message: '/health to turn cdc down',
      timeoutMs: LAG_ALERT_MS + 10_000,
      intervalMs: 25,
    });
    const downMs = Date.now() - committedAt;
    // occurred_at is taken inside the transaction, a little before the test saw the commit.
    expect(downMs).toBeGreaterThanOrEqual(LAG_ALERT_MS - 200);
    expect(downMs).toBeLessThan(LAG_ALERT_MS + 1500);
    expect(down.error.cdc.status).toBe('down');
    expect(down.error.cdc.message).toMatch(
      new RegExp(`oldest unpublished change is \\d+ ms old \\(CDC_LAG_ALERT_MS=${LAG_ALERT_MS}\\)`),
    );
    expect(Number(/is (\d+) ms old/.exec(down.error.cdc.message!)![1])).toBeGreaterThanOrEqual(LAG_ALERT_MS);
    // Only cdc is down: this instance's database and Redis are fine.
    expect(down.info.database.status).toBe('up');
    expect(down.info.redis.status).toBe('up');
    const report = json(await call(observer, 'GET', '/health/cdc')).relay;
    expect(report.backlog).toBe(1);
    expect(report.oldestUnpublishedAgeMs).toBeGreaterThanOrEqual(LAG_ALERT_MS);

    // The partition ends: the relay publishes what waited, and cdc is up again.
    await proxy.release();
    await eventually(async () => (await call(observer, 'GET', '/health')).statusCode === 200, {
      message: '/health to answer 200 again',
      timeoutMs: 15_000,
    });
    expect(json(await call(observer, 'GET', '/health/cdc')).relay).toMatchObject({
      backlog: 0,
      oldestUnpublishedAgeMs: null,
    });
    if (process.env.CDC_TEST_VERBOSE) {
      process.stderr.write(
        `lag alert: /health cdc down ${downMs} ms after the commit (CDC_LAG_ALERT_MS=${LAG_ALERT_MS})\n`,
      );
    }
  }, 60_000);
});

describe('a relay whose Redis connection hangs for good, while Redis answers new ones, publishes again on a new connection', () => {
  const ctx = useTestContext(); // closed first: its app still holds connections through the proxy
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('steps down after CDC_RELAY_STALL_MS, leads again with a renewed client, and the waiting row is published', async () => {
    proxy = await proxyToTestRedis();
    // The only relay, through the proxy.
    const app = await relayBehind(ctx(), proxy);
    const relay = app.get(OutboxRelay);
    const seeded = await seedCatalog(ctx().sql, 1, 1);
    await eventually(async () => (await backlog(ctx().sql)) === 0, { message: 'the seed to be published' });
    const publishedBefore = relay.published;

    // Every connection open now hangs (the relay's among them); a new one reaches Redis.
    await proxy.holdEstablished();
    await ctx().sql.query(`UPDATE catalog.products SET name = 'Published on a new connection' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    const [waiting] = await unpublishedEventIds(ctx().sql);
    await eventually(async () => (await backlog(ctx().sql)) === 0, {
      message: 'the row to be published on a new connection',
      timeoutMs: STALL_MS + 3 * POLL_MS + 10_000,
    });
    expect(relay.published).toBe(publishedBefore + 1);
    expect(relay.leader).toBe(true);
    const direct = rawRedis(TEST_REDIS_URL);
    try {
      const published = (await readStream(direct, `${ctx().redisPrefix}cdc.catalog.v1`)).map((e) => e.event.id);
      expect(published).toContain(waiting);
    } finally {
      direct.disconnect();
    }
  }, 60_000);
});

describe('Redis out of memory (maxmemory reached, noeviction): /health reports cdc down naming OOM', () => {
  const ctx = useTestContext(); // closed first: its app still uses this Redis
  let redis: RedisServer | undefined;
  let filler: Redis | undefined;
  afterAll(async () => {
    filler?.disconnect();
    await redis?.close();
  });

  it('while XADD is refused with OOM, cdc is down with a reason naming OOM and maxmemory; up again once memory is freed', async () => {
    redis = await RedisServer.start();
    filler = rawRedis(redis.url);
    // The same as starting it with --maxmemory 2mb --maxmemory-policy noeviction.
    await filler.config('SET', 'maxmemory', '2mb');
    await filler.config('SET', 'maxmemory-policy', 'noeviction');
    // A lag limit far away, so only the OOM can turn cdc down here.
    const app = await ctx().startBff({
      REDIS_URL: redis.url,
      CDC_RELAY_STALL_MS: String(STALL_MS),
      CDC_LAG_ALERT_MS: '60000',
    });
    const seeded = await seedCatalog(ctx().sql, 1, 1);
    await waitForCdc(app);
    expect((await call(app, 'GET', '/health')).statusCode).toBe(200);

    // Fill Redis past maxmemory with one small command (SETRANGE zero-pads up to the offset): accepted while under
    // the limit, it leaves memory a few MB over it, so every write is refused, small ones included, until deleted.
    // (Filling with many values stops right at the limit, where a small XADD may still be accepted.)
    const fillerKey = `${ctx().redisPrefix}filler`;
    await filler.setrange(fillerKey, 3 * 1024 * 1024, 'x');
    const memory = await filler.info('memory');
    expect(Number(/^used_memory:(\d+)/m.exec(memory)![1])).toBeGreaterThan(2 * 1024 * 1024);
    await expect(filler.set(`${ctx().redisPrefix}probe`, 'x')).rejects.toThrow(/^OOM/);
    // Nothing to publish yet: a full Redis alone is not a cdc problem (reads, PING and XREADGROUP still work).
    expect(json(await call(app, 'GET', '/health')).info.cdc.status).toBe('up');

    await ctx().sql.query(`UPDATE catalog.products SET name = 'Redis is full' WHERE id = $1`, [seeded.products[0].id]);
    const committedAt = Date.now();
    const down = await eventuallyValue(() => healthWhenDown(app), {
      message: '/health to turn cdc down',
      timeoutMs: 10_000,
      intervalMs: 25,
    });
    const downMs = Date.now() - committedAt;
    expect(down.error.cdc.status).toBe('down');
    expect(down.error.cdc.message).toMatch(/OOM/);
    expect(down.error.cdc.message).toMatch(/maxmemory/);
    expect(downMs).toBeLessThan(POLL_MS + SLACK_MS);
    // The change waits in the outbox, not lost.
    expect(await backlog(ctx().sql)).toBe(1);
    expect(json(await call(app, 'GET', '/health/cdc')).relay.lastPublishError).toMatchObject({
      message: expect.stringMatching(/^OOM/),
    });

    // Memory freed: the relay publishes what waited and cdc is up again.
    await filler.del(fillerKey);
    await eventually(async () => (await call(app, 'GET', '/health')).statusCode === 200, {
      message: '/health to answer 200 again',
      timeoutMs: 15_000,
    });
    expect(await backlog(ctx().sql)).toBe(0);
    expect(json(await call(app, 'GET', '/health/cdc')).relay.lastPublishError).toBeNull();
    if (process.env.CDC_TEST_VERBOSE) process.stderr.write(`OOM: /health cdc down ${downMs} ms after the commit\n`);
  }, 60_000);
});
