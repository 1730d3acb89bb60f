// Like the global setup, outside jest's module mapper.
import 'tsconfig-paths/register';
import { dropDatabase } from './test-database';
import { stopRunRedis } from './test-redis';

export default async function globalTeardown(): Promise<void> {
  await stopRunRedis();
  if (process.env.CACHEGATE_TEST_TEMPLATE) await dropDatabase(process.env.CACHEGATE_TEST_TEMPLATE);
}
