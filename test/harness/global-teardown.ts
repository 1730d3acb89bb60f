// Like the global setup, outside jest's module mapper.
import 'tsconfig-paths/register';
import { dropDatabase } from './test-database';

export default async function globalTeardown(): Promise<void> {
  if (process.env.CACHEGATE_TEST_TEMPLATE) await dropDatabase(process.env.CACHEGATE_TEST_TEMPLATE);
}
