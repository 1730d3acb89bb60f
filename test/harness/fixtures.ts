import { randomBytes } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse as Response } from 'fastify';
import { Pool } from 'pg';
import { call, json } from './http';

/**
 * Environment overrides the foundation suites start their BFFs with: they check
 * the API against the source of truth (Postgres) and read right after writing.
 * One place to change if a suite needs a different default.
 */
export const FOUNDATION_ENV: Record<string, string> = {};

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO_TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A well-formed UUID that no test ever creates. */
export const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** The exact field lists of docs/contract.md §3, in the order the spec gives them. */
export const PRODUCT_FIELDS = [
  'id',
  'sku',
  'name',
  'description',
  'priceCents',
  'currency',
  'categoryId',
  'active',
  'version',
  'updatedAt',
];
export const AVAILABILITY_FIELDS = ['productId', 'quantity', 'inStock', 'updatedAt'];
export const CATEGORY_SUMMARY_FIELDS = ['id', 'slug', 'name', 'productCount'];
export const ORDER_FIELDS = [
  'id',
  'accountId',
  'status',
  'currency',
  'customerEmail',
  'shippingAddress',
  'totalCents',
  'version',
  'items',
  'createdAt',
  'updatedAt',
];
export const ORDER_ITEM_FIELDS = ['id', 'productId', 'sku', 'name', 'quantity', 'unitPriceCents'];
export const ORDER_SUMMARY_FIELDS = ['id', 'status', 'totalCents', 'currency', 'itemCount', 'createdAt'];

/** Sorted keys, so `expect(keysOf(x)).toEqual(sorted(FIELDS))` states "exactly these fields". */
export const keysOf = (value: object): string[] => Object.keys(value).sort();
export const sorted = (fields: string[]): string[] => [...fields].sort();

/** A short random tag that keeps slugs, skus and account ids of different tests apart in one database. */
export function tag(): string {
  return randomBytes(4).toString('hex');
}

/** Fails with the response body in the message, which `expect(res.statusCode).toBe(…)` does not show. */
export function expectStatus(res: Response, status: number): void {
  if (res.statusCode !== status) {
    throw new Error(`expected HTTP ${status}, got ${res.statusCode}: ${res.body.slice(0, 1000)}`);
  }
}

/** The Nest error body: `{statusCode, message, error}`, with `message` flattened to one string. */
export function errorOf(res: Response): { statusCode: number; message: string; error: string } {
  const body = json(res);
  expect(body.statusCode).toBe(res.statusCode);
  expect(typeof body.error).toBe('string');
  return { ...body, message: Array.isArray(body.message) ? body.message.join('; ') : String(body.message) };
}

export interface CategoryBody {
  id: string;
  slug: string;
  name: string;
}

export interface ProductBody {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  categoryId: string;
  active: boolean;
  version: number;
  updatedAt: string;
}

export async function createCategory(
  app: NestFastifyApplication,
  fields: Partial<{ slug: string; name: string }> = {},
): Promise<CategoryBody> {
  const t = tag();
  const res = await call(app, 'POST', '/catalog/categories', { slug: `cat-${t}`, name: `Category ${t}`, ...fields });
  expectStatus(res, 201);
  return json(res);
}

export function productBody(categoryId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  const t = tag().toUpperCase();
  return { sku: `SKU-${t}`, name: `Product ${t}`, priceCents: 1250, currency: 'EUR', categoryId, ...fields };
}

export async function createProduct(
  app: NestFastifyApplication,
  categoryId: string,
  fields: Record<string, unknown> = {},
): Promise<ProductBody> {
  const res = await call(app, 'POST', '/catalog/products', productBody(categoryId, fields));
  expectStatus(res, 201);
  return json(res);
}

/** A new category with one product in it (the products' `stock` defaults to 10 here). */
export async function createCategoryWithProduct(
  app: NestFastifyApplication,
  productFields: Record<string, unknown> = {},
): Promise<{ category: CategoryBody; product: ProductBody }> {
  const category = await createCategory(app);
  const product = await createProduct(app, category.id, { stock: 10, ...productFields });
  return { category, product };
}

export const ADDRESS = {
  name: 'Ada Lovelace',
  line1: '12 Analytical Row',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
};

export function orderBody(
  items: { productId: string; quantity: number }[],
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    accountId: `acct-${tag()}`,
    currency: 'EUR',
    customerEmail: 'ada@example.com',
    shippingAddress: ADDRESS,
    items,
    ...fields,
  };
}

export async function createOrder(
  app: NestFastifyApplication,
  items: { productId: string; quantity: number }[],
  fields: Record<string, unknown> = {},
): Promise<any> {
  const res = await call(app, 'POST', '/orders', orderBody(items, fields));
  expectStatus(res, 201);
  return json(res);
}

/** The stock quantity as Postgres has it (null when the product has no stock row). */
export async function stockOf(sql: Pool, productId: string): Promise<number | null> {
  const { rows } = await sql.query<{ quantity: number }>(
    'SELECT quantity FROM catalog.stock_levels WHERE product_id = $1',
    [productId],
  );
  return rows[0]?.quantity ?? null;
}

export async function countRows(sql: Pool, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params);
  return rows[0].n;
}

/** Every table the catalog and orders API writes, with the order that makes a snapshot deterministic. */
const SNAPSHOT_TABLES: Record<string, string> = {
  'catalog.categories': 'id',
  'catalog.products': 'id',
  'catalog.stock_levels': 'product_id',
  'orders.orders': 'id',
  'orders.order_items': 'id',
};

/**
 * The full contents of catalog.* and orders.* (every column, timestamps and
 * versions included), so comparing two snapshots shows any write at all.
 */
export async function snapshotDatabase(sql: Pool): Promise<Record<string, unknown[]>> {
  const snapshot: Record<string, unknown[]> = {};
  for (const [table, key] of Object.entries(SNAPSHOT_TABLES)) {
    const { rows } = await sql.query(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY ${key}`);
    snapshot[table] = rows.map((r) => r.row);
  }
  return snapshot;
}
