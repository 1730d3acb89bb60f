import { DataSource } from 'typeorm';

/**
 * Runs `work` while holding a Postgres session advisory lock named `key`, so
 * that of several processes doing the same thing at boot (migrating, seeding)
 * one goes at a time. The lock lives on one pooled connection for the duration.
 */
export async function withAdvisoryLock<T>(dataSource: DataSource, key: string, work: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    return await work();
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
    await runner.release();
  }
}
