import { Client, Pool } from 'pg';
import Redis from 'ioredis';

const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The bench's own database and Redis prefix, created fresh and removed at the end. */
export class BenchDatabase {
  readonly pool: Pool;

  private constructor(
    readonly name: string,
    readonly url: string,
    readonly prefix: string,
  ) {
    this.pool = new Pool({ connectionString: url, max: 8 });
    // The database is dropped WITH (FORCE) at the end: an idle client terminated then is expected, not a crash.
    this.pool.on('error', () => undefined);
  }

  /** `kind` names the database and prefix (`bench`, `soak`) so two tools can run side by side. */
  static async create(kind = 'bench'): Promise<BenchDatabase> {
    const name = `cachegate_${kind}_${process.pid}`;
    await BenchDatabase.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await BenchDatabase.admin(`CREATE DATABASE ${name}`);
    const url = new URL(SERVER);
    url.pathname = `/${name}`;
    return new BenchDatabase(name, url.toString(), `${kind}:${process.pid}:`);
  }

  env(): Record<string, string> {
    return {
      NODE_ENV: 'test',
      DATABASE_URL: this.url,
      BILLING_DATABASE_URL: this.url,
      REDIS_URL,
      CACHE_KEY_PREFIX: this.prefix,
      LOG_LEVEL: 'warn',
    };
  }

  redis(url = REDIS_URL): Redis {
    return new Redis(url);
  }

  async drop(): Promise<void> {
    await this.pool.end();
    await BenchDatabase.admin(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    const redis = this.redis();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }

  private static async admin(sql: string): Promise<void> {
    const client = new Client({ connectionString: SERVER });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}
