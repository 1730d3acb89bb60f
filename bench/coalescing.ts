import type { BenchDatabase } from './bench-database';
import type { BenchServer } from './servers';

export interface CoalescingOptions {
  db: BenchDatabase;
  instances: BenchServer[];
  requests: number;
  log: (message: string) => void;
}

async function productMisses(instance: BenchServer): Promise<number> {
  const stats = (await (await fetch(`${instance.url}/health/catalog/cache`)).json()) as {
    metrics: { product: { misses: number } };
  };
  return stats.metrics.product.misses;
}

/**
 * `requests` concurrent cold reads of one key, split over the instances: the
 * bucket's `misses` (its source reads) summed over all instances must be 1.
 */
export async function measureCoalescing(options: CoalescingOptions) {
  const { db, instances } = options;
  // A product no instance has read yet: cold in L1 and L2.
  const { rows } = await db.pool.query<{ id: string; category_id: string }>(
    `INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
     SELECT 'BENCH-COLD-' || floor(random() * 1e9)::text, 'Cold product', 100, 'EUR', id FROM catalog.categories LIMIT 1
     RETURNING id, category_id`,
  );
  // Let the insert's own CDC event pass, so it cannot invalidate the fill under test.
  await new Promise((r) => setTimeout(r, 500));
  const before = await Promise.all(instances.map(productMisses));
  options.log(`coalescing: ${options.requests} concurrent cold reads over ${instances.length} instances`);
  const responses = await Promise.all(
    Array.from({ length: options.requests }, (_, i) =>
      fetch(`${instances[i % instances.length].url}/catalog/products/${rows[0].id}`).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    ),
  );
  const failed = responses.filter((s) => s !== 200).length;
  if (failed > 0) throw new Error(`coalescing: ${failed} of ${options.requests} reads failed`);
  const after = await Promise.all(instances.map(productMisses));
  const sourceReads = after.reduce((sum, n, i) => sum + n - before[i], 0);
  options.log(`coalescing: ${sourceReads} source read(s)`);
  return { requests: options.requests, instances: instances.length, sourceReads };
}
