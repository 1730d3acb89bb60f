import { randomBytes } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { createBffApp } from '../../apps/bff/src/bff-app';
import { createBillingApp } from '../../apps/billing/src/billing-app';
import { eventually } from '../../tools/eventually';
import {
  createDatabase,
  dropDatabase,
  TEST_DATABASE_PREFIX,
  testDatabaseUrl,
  withMaintenanceClient,
} from './test-database';
import { NO_CLUSTER, rawRedis, scanAll, testRedisEnv, unlinkAll } from './test-redis';

let counter = 0;

/** The BFFs the TestContexts of this process started and have not closed (waitForCdc drains their channels). */
const running = new Set<NestFastifyApplication>();

export function runningBffs(): NestFastifyApplication[] {
  return [...running];
}

/**
 * The one harness every test that needs real servers uses: its own database
 * (cloned from the migrated template), its own Redis key and stream prefix,
 * any number of BFF instances on them, and a clean-up that removes all of it.
 */
export class TestContext {
  readonly apps: NestFastifyApplication[] = [];

  private constructor(
    readonly databaseName: string,
    readonly databaseUrl: string,
    readonly redisPrefix: string,
    /** Plain SQL on this test's database: writes made "outside the BFF". */
    readonly sql: Pool,
  ) {}

  static async create(): Promise<TestContext> {
    const template = process.env.CACHEGATE_TEST_TEMPLATE;
    if (!template) throw new Error('CACHEGATE_TEST_TEMPLATE is unset: run e2e tests through test/jest-e2e.config.js');
    const suffix = `${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
    const name = `${TEST_DATABASE_PREFIX}${process.env.CACHEGATE_TEST_RUN}_${suffix}`;
    await createDatabase(name, template);
    const url = testDatabaseUrl(name);
    return new TestContext(name, url, `test:${suffix}:`, new Pool({ connectionString: url, max: 4 }));
  }

  /**
   * The environment a BFF of this test runs with; `overrides` win. On the test Redis (test-redis.ts: in a
   * cluster run with REDIS_CLUSTER_NODES too), unless `overrides` names a REDIS_URL: such a test is about that
   * one server (its own redis-server, or a proxy in front of one), so it runs without a cluster.
   */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      DATABASE_URL: this.databaseUrl,
      ...('REDIS_URL' in overrides ? NO_CLUSTER : testRedisEnv()),
      CACHE_KEY_PREFIX: this.redisPrefix,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      CDC_CONSUMER_NAME: `test-${process.pid}-${this.apps.length + 1}`,
      // The whole system by default: writes invalidate only through the CDC pipeline (docs/contract.md §1).
      CDC_RELAY: 'true',
      CDC_SUBSCRIBER: 'true',
      CDC_CLAIM_IDLE_MS: '1000',
      // Loaded CI machines can delay a PING past the 500 ms default; tests that are not about the bound
      // would then see HIT-L2 for HIT-L1. test/cache/l1-staleness sets its own.
      L1_MAX_STALENESS_MS: '2000',
      ...overrides,
    };
  }

  /** Starts a BFF instance (not listening; use `inject`). Several may run against the same database and prefix. */
  async startBff(overrides: Record<string, string> = {}): Promise<NestFastifyApplication> {
    const app = await createBffApp({ overrides: this.env(overrides) });
    try {
      await app.startAllMicroservices();
      await app.init();
      await app.getHttpAdapter().getInstance().ready();
    } catch (err) {
      // A refused boot (a test may expect one) must not leave its connections and timers open.
      await app.close().catch(() => undefined);
      throw err;
    }
    this.apps.push(app);
    running.add(app);
    return app;
  }

  /** The environment a billing service of this test runs with (its schema `billing` is in this test's database); `overrides` win. */
  billingEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      BILLING_DATABASE_URL: this.databaseUrl,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...overrides,
    };
  }

  /**
   * Starts a billing service (apps/billing) on this test's database, listening on
   * 127.0.0.1 (an ephemeral port unless `port` is given, e.g. to restart it where
   * a BFF expects it), so a BFF reaches it over real HTTP:
   *
   *   const billing = await ctx.startBilling();
   *   const bff = await ctx.startBff({ BILLING_URL: await billing.getUrl() });
   *
   * `inject` works on it too. Closed with the context (or earlier with `app.close()`).
   */
  async startBilling(
    overrides: Record<string, string> = {},
    { port = 0 }: { port?: number } = {},
  ): Promise<NestFastifyApplication> {
    const app = await createBillingApp({ overrides: this.billingEnv(overrides) });
    try {
      await app.listen(port, '127.0.0.1');
    } catch (err) {
      await app.close();
      throw err;
    }
    this.apps.push(app);
    return app;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.apps.map((a) => a.close()));
    for (const app of this.apps) running.delete(app);
    await this.sql.end();
    await this.deleteRedisKeys();
    // Closed clients may still be saying goodbye: a FORCE drop would terminate them, and a pg client
    // terminated while idle emits 'error' into this test process. Wait (bounded) until they are gone.
    await eventually(
      async () =>
        (await withMaintenanceClient((c) =>
          c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [
            this.databaseName,
          ]),
        ).then((r) => r.rows[0].n)) === 0,
      { timeoutMs: 3000, intervalMs: 25, message: 'the test database to have no connections left' },
    ).catch(() => undefined); // a connection leaked by a test: the FORCE drop below ends it
    await dropDatabase(this.databaseName);
  }

  private async deleteRedisKeys(): Promise<void> {
    const redis = rawRedis();
    try {
      await unlinkAll(redis, await scanAll(redis, `${this.redisPrefix}*`));
    } catch {
      // Redis may be deliberately down at the end of a failure test; its keys die with it.
    } finally {
      redis.disconnect();
    }
  }
}

/**
 * Registers a TestContext for the enclosing describe block: created before all tests, closed after.
 * Suites that start BFFs and share seed data use useSeededBff (seeded-bff.ts), which builds on TestContext.
 */
export function useTestContext(): () => TestContext {
  let ctx: TestContext | undefined;
  beforeAll(async () => {
    ctx = await TestContext.create();
  });
  afterAll(async () => {
    await ctx?.close();
  });
  return () => {
    if (!ctx) throw new Error('TestContext used outside a test');
    return ctx;
  };
}
