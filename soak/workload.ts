import { randomInt, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';

/** What the writers and readers know about the data; refreshed from the database while they run. */
export interface Keys {
  categories: { id: string; slug: string }[];
  products: string[];
  orders: string[];
  accounts: string[];
}

export async function loadKeys(pool: Pool): Promise<Keys> {
  const [categories, products, orders] = await Promise.all([
    pool.query<{ id: string; slug: string }>(`SELECT id, slug FROM catalog.categories ORDER BY slug`),
    pool.query<{ id: string }>(`SELECT id FROM catalog.products ORDER BY id`),
    pool.query<{ id: string; account_id: string }>(`SELECT id, account_id FROM orders.orders ORDER BY id`),
  ]);
  return {
    categories: categories.rows,
    products: products.rows.map((r) => r.id),
    orders: orders.rows.map((r) => r.id),
    accounts: [...new Set([...ACCOUNTS, ...orders.rows.map((r) => r.account_id)])].sort(),
  };
}

/** Every cached view (docs/contract.md §3) for the given keys. */
export function viewPaths(keys: Keys): string[] {
  return [
    '/catalog/categories',
    ...keys.categories.map((c) => `/catalog/categories/${c.slug}/products`),
    ...keys.products.flatMap((id) => [`/catalog/products/${id}`, `/catalog/products/${id}/availability`]),
    ...keys.accounts.map((a) => `/accounts/${a}/orders`),
    ...keys.orders.map((id) => `/orders/${id}`),
  ];
}

/** The demo accounts plus one that only the soak writes to. */
const ACCOUNTS = ['acme', 'globex', 'initech', 'soak'];
const STATUS_NEXT: Record<string, string[]> = {
  pending: ['paid', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered'],
};

export const WRITE_KINDS = [
  'product-update',
  'category-move',
  'stock',
  'product-insert',
  'product-delete',
  'category-rename',
  'order-insert',
  'order-status',
  'order-item',
  'order-delete',
] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];
export type Channel = 'http' | 'sql';

export type WriteOutcome = 'ok' | 'rejected' | 'error';

/** One write against an instance (`url`) or, with `url` undefined, plain SQL. */
export class Writer {
  constructor(
    private readonly pool: Pool,
    private readonly keys: () => Keys,
  ) {}

  async write(kind: WriteKind, url: string | undefined): Promise<{ outcome: WriteOutcome; detail?: string }> {
    const keys = this.keys();
    const product = pick(keys.products);
    const category = pick(keys.categories);
    const order = pick(keys.orders);
    const http = url ? (method: string, path: string, body?: unknown) => request(url, method, path, body) : undefined;
    const sql = async (text: string, values: unknown[] = []) => {
      await this.pool.query(text, values);
      return { outcome: 'ok' as const };
    };
    if (!product || !category) return { outcome: 'rejected', detail: 'no keys' };
    switch (kind) {
      case 'product-update': {
        const priceCents = randomInt(100, 10_000);
        const active = Math.random() < 0.85;
        const name = `Soak ${randomInt(1_000_000)}`;
        return http
          ? http('PATCH', `/catalog/products/${product}`, { priceCents, name, active })
          : sql(`UPDATE catalog.products SET price_cents = $2, name = $3, active = $4 WHERE id = $1`, [
              product,
              priceCents,
              name,
              active,
            ]);
      }
      case 'category-move':
        return http
          ? http('PATCH', `/catalog/products/${product}`, { categoryId: category.id })
          : sql(`UPDATE catalog.products SET category_id = $2 WHERE id = $1`, [product, category.id]);
      case 'stock': {
        const quantity = randomInt(0, 500);
        return http
          ? http('PUT', `/catalog/products/${product}/stock`, { quantity })
          : sql(`UPDATE catalog.stock_levels SET quantity = $2 WHERE product_id = $1`, [product, quantity]);
      }
      case 'product-insert': {
        const sku = `SOAK-${randomUUID().slice(0, 8).toUpperCase()}`;
        const name = `Soak ${sku}`;
        const priceCents = randomInt(100, 10_000);
        const stock = randomInt(0, 500);
        if (http) {
          return http('POST', '/catalog/products', {
            sku,
            name,
            priceCents,
            currency: 'EUR',
            categoryId: category.id,
            stock,
          });
        }
        return sql(
          `WITH p AS (INSERT INTO catalog.products (sku, name, price_cents, currency, category_id)
                      VALUES ($1, $2, $3, 'EUR', $4) RETURNING id)
           INSERT INTO catalog.stock_levels (product_id, quantity) SELECT id, $5 FROM p`,
          [sku, name, priceCents, category.id, stock],
        );
      }
      case 'product-delete':
        return http
          ? http('DELETE', `/catalog/products/${product}`)
          : sql(`DELETE FROM catalog.products WHERE id = $1`, [product]);
      case 'category-rename': {
        const name = `Category ${randomInt(1_000_000)}`;
        return http
          ? http('PATCH', `/catalog/categories/${category.id}`, { name })
          : sql(`UPDATE catalog.categories SET name = $2 WHERE id = $1`, [category.id, name]);
      }
      case 'order-insert': {
        const accountId = pick(ACCOUNTS)!;
        const quantity = randomInt(1, 4);
        if (http) {
          return http('POST', '/orders', {
            accountId,
            currency: 'EUR',
            customerEmail: `${accountId}@example.com`,
            shippingAddress: {
              name: 'Soak',
              line1: '1 Soak Street',
              city: 'Berlin',
              postalCode: '10115',
              country: 'DE',
            },
            items: [{ productId: product, quantity }],
          });
        }
        return sql(
          `WITH p AS (SELECT id, sku, name, price_cents FROM catalog.products WHERE id = $2),
                o AS (INSERT INTO orders.orders (account_id, currency, customer_email, shipping_address, total_cents)
                      SELECT $1, 'EUR', $1 || '@example.com', '{"name":"Soak","line1":"1 Soak Street","city":"Berlin","postalCode":"10115","country":"DE"}'::jsonb,
                             price_cents * $3 FROM p RETURNING id)
           INSERT INTO orders.order_items (order_id, product_id, sku, name, quantity, unit_price_cents)
           SELECT o.id, p.id, p.sku, p.name, $3, p.price_cents FROM o, p`,
          [accountId, product, quantity],
        );
      }
      case 'order-status': {
        if (!order) return { outcome: 'rejected', detail: 'no orders' };
        const { rows } = await this.pool.query<{ status: string }>(`SELECT status FROM orders.orders WHERE id = $1`, [
          order,
        ]);
        const next = pick(STATUS_NEXT[rows[0]?.status ?? ''] ?? []);
        if (!next) return { outcome: 'rejected', detail: 'final status' };
        return http
          ? http('PATCH', `/orders/${order}`, { status: next })
          : sql(`UPDATE orders.orders SET status = $2 WHERE id = $1`, [order, next]);
      }
      case 'order-item': {
        if (!order) return { outcome: 'rejected', detail: 'no orders' };
        const { rows } = await this.pool.query<{ id: string }>(
          `SELECT id FROM orders.order_items WHERE order_id = $1`,
          [order],
        );
        const item = pick(rows)?.id;
        const quantity = randomInt(1, 5);
        if (http) {
          const roll = Math.random();
          if (!item || roll < 0.4) return http('POST', `/orders/${order}/items`, { productId: product, quantity });
          if (roll < 0.8) return http('PATCH', `/orders/${order}/items/${item}`, { quantity });
          return http('DELETE', `/orders/${order}/items/${item}`);
        }
        if (!item) return { outcome: 'rejected', detail: 'no items' };
        // An item change outside the BFF, keeping the order's total consistent in the same transaction.
        return sql(
          `WITH i AS (UPDATE orders.order_items SET quantity = $2 WHERE id = $1 RETURNING order_id)
           UPDATE orders.orders o SET total_cents = (
             SELECT coalesce(sum(CASE WHEN it.id = $1 THEN $2 ELSE it.quantity END * it.unit_price_cents), 0)
             FROM orders.order_items it WHERE it.order_id = o.id)
           FROM i WHERE o.id = i.order_id`,
          [item, quantity],
        );
      }
      case 'order-delete':
        if (!order) return { outcome: 'rejected', detail: 'no orders' };
        return http ? http('DELETE', `/orders/${order}`) : sql(`DELETE FROM orders.orders WHERE id = $1`, [order]);
    }
  }
}

/** 2xx ok; 4xx an expected refusal under concurrency (deleted meanwhile, no stock, wrong status); else an error. */
async function request(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ outcome: WriteOutcome; detail?: string }> {
  const res = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status < 300) return { outcome: 'ok' };
  if (res.status < 500) return { outcome: 'rejected', detail: `${res.status} ${method} ${path}` };
  return { outcome: 'error', detail: `${res.status} ${method} ${path}: ${text.slice(0, 300)}` };
}

export function pick<T>(items: readonly T[]): T | undefined {
  return items.length ? items[randomInt(items.length)] : undefined;
}
