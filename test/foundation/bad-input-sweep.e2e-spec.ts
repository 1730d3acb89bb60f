import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse as Response } from 'fastify';
import {
  createCategoryWithProduct,
  createOrder,
  createProduct,
  FOUNDATION_ENV,
  orderBody,
  snapshotDatabase,
} from '../harness/fixtures';
import { call, HttpMethod } from '../harness/http';
import { useTestContext } from '../harness/test-context';

/**
 * docs/contract.md §9.6: bad input never reaches a 500, and nothing half-written is left
 * behind. Every route that takes input gets a barrage of malformed requests
 * built from a valid one; each answer must be a 4xx with Nest's error body, and
 * catalog.* and orders.* must be exactly as before.
 *
 * GET /catalog/categories takes no input (Fastify ignores a GET body), so it has
 * nothing to malform and is not swept.
 */

type Ids = {
  categoryId: string;
  slug: string;
  productId: string;
  otherProductId: string;
  orderId: string;
  itemId: string;
  accountId: string;
};
type ParamKind = 'uuid' | 'slug' | 'accountId';

interface Route {
  method: HttpMethod;
  /** With `:name` placeholders filled from Ids. */
  path: string;
  params: Record<string, ParamKind>;
  /** A body the route would accept (so each variant differs from a success in one way only). */
  body?: (ids: Ids) => Record<string, unknown>;
  /** Every body field is optional (PATCH): `{}` is a valid "change nothing", not malformed. */
  partial?: boolean;
}

const ROUTES: Route[] = [
  { method: 'POST', path: '/catalog/categories', params: {}, body: () => ({ slug: 'swept', name: 'Swept' }) },
  {
    method: 'PATCH',
    path: '/catalog/categories/:categoryId',
    params: { categoryId: 'uuid' },
    body: () => ({ slug: 'swept-two', name: 'Swept Two' }),
    partial: true,
  },
  { method: 'GET', path: '/catalog/categories/:slug/products', params: { slug: 'slug' } },
  { method: 'GET', path: '/catalog/products/:productId', params: { productId: 'uuid' } },
  { method: 'GET', path: '/catalog/products/:productId/availability', params: { productId: 'uuid' } },
  {
    method: 'POST',
    path: '/catalog/products',
    params: {},
    body: (ids) => ({
      sku: 'SWEPT-1',
      name: 'Swept',
      description: 'text',
      priceCents: 100,
      currency: 'EUR',
      categoryId: ids.categoryId,
      active: true,
      stock: 3,
    }),
  },
  {
    method: 'PUT',
    path: '/catalog/products/:productId',
    params: { productId: 'uuid' },
    body: (ids) => ({
      sku: 'SWEPT-2',
      name: 'Swept',
      description: 'text',
      priceCents: 100,
      currency: 'EUR',
      categoryId: ids.categoryId,
      active: true,
    }),
  },
  {
    method: 'PATCH',
    path: '/catalog/products/:productId',
    params: { productId: 'uuid' },
    body: (ids) => ({
      sku: 'SWEPT-3',
      name: 'Swept',
      description: 'text',
      priceCents: 100,
      currency: 'EUR',
      categoryId: ids.categoryId,
      active: false,
    }),
    partial: true,
  },
  {
    method: 'PUT',
    path: '/catalog/products/:productId/stock',
    params: { productId: 'uuid' },
    body: () => ({ quantity: 5 }),
  },
  { method: 'DELETE', path: '/catalog/products/:productId', params: { productId: 'uuid' } },
  { method: 'GET', path: '/accounts/:accountId/orders', params: { accountId: 'accountId' } },
  { method: 'GET', path: '/orders/:orderId', params: { orderId: 'uuid' } },
  {
    method: 'POST',
    path: '/orders',
    params: {},
    body: (ids) =>
      orderBody([{ productId: ids.otherProductId, quantity: 1 }], {
        accountId: ids.accountId,
        shippingAddress: { name: 'A', line1: 'B', line2: 'C', city: 'D', region: 'E', postalCode: 'F', country: 'DE' },
      }),
  },
  { method: 'PATCH', path: '/orders/:orderId', params: { orderId: 'uuid' }, body: () => ({ status: 'paid' }) },
  { method: 'DELETE', path: '/orders/:orderId', params: { orderId: 'uuid' } },
  {
    method: 'POST',
    path: '/orders/:orderId/items',
    params: { orderId: 'uuid' },
    body: (ids) => ({ productId: ids.otherProductId, quantity: 1 }),
  },
  {
    method: 'PATCH',
    path: '/orders/:orderId/items/:itemId',
    params: { orderId: 'uuid', itemId: 'uuid' },
    body: () => ({ quantity: 2 }),
  },
  { method: 'DELETE', path: '/orders/:orderId/items/:itemId', params: { orderId: 'uuid', itemId: 'uuid' } },
];

const BAD_PATH_VALUES: Record<ParamKind, (valid: string) => string[]> = {
  uuid: (valid) => [
    'not-a-uuid',
    '123',
    `${valid}0`,
    valid.slice(0, -1),
    valid.replace(/-/g, ''),
    `${valid.slice(0, -1)}g`,
    '%00',
    "1'%20OR%20'1'='1",
    '%7B%7D',
    'null',
    encodeURIComponent('*'),
    `${valid}%20`,
  ],
  slug: () => [
    'Upper',
    'has%20space',
    's'.repeat(65),
    'under_score',
    '%00',
    'dot.ted',
    encodeURIComponent('*'),
    '%C3%A4',
  ],
  accountId: () => [
    'has%20space',
    'a'.repeat(65),
    'dot.ted',
    '%C3%A4',
    '%00',
    encodeURIComponent('acct:*'),
    encodeURIComponent('{}'),
  ],
};

/** Raw payloads sent as application/json: none is a valid JSON object. */
const BROKEN_JSON = ['{', '{"a":}', '{"a":1}x', "{'a':1}", 'nul', '', '{"a":1,}', '\u0000', '{"a":"\\x"}'];
/** Parseable JSON that is not the object the route wants. */
const WRONG_SHAPES = ['null', '[]', '[{}]', '"string"', '42', 'true', '{}'];

function wrongValues(value: unknown): unknown[] {
  if (typeof value === 'string') return [12, true, [], {}, null, [value], '\u0000', `x${'\u0000'}y`];
  if (typeof value === 'number') return [String(value), value + 0.5, -1, 2 ** 31, 1e308, true, null, [value], {}];
  if (typeof value === 'boolean') return [String(value), 1, 0, null, [value]];
  if (Array.isArray(value)) return [{}, 'x', null, 0, [], [null], ['x'], [[]]];
  return ['x', [], null, 1, [value]];
}

/** Every path to a leaf or container of a JSON value, e.g. ['items', 0, 'quantity']. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const children = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [...(prefix.length ? [prefix] : []), ...children.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function withValueAt(body: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(body) as any;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]] = value;
  return copy;
}

function getAt(body: unknown, path: (string | number)[]): unknown {
  return path.reduce((node: any, key) => node[key], body);
}

interface Variant {
  label: string;
  url: string;
  payload?: string;
  contentType?: string;
  /** The exact status this variant must get; otherwise any 4xx. */
  status?: number;
}

function fill(path: string, ids: Ids, override: Record<string, string> = {}): string {
  return path.replace(/:(\w+)/g, (_, name: string) => override[name] ?? (ids as Record<string, string>)[name]);
}

function variantsOf(route: Route, ids: Ids): Variant[] {
  const validUrl = fill(route.path, ids);
  const variants: Variant[] = [];
  const validBody = route.body?.(ids);
  const validPayload = validBody ? JSON.stringify(validBody) : undefined;

  // Bad path parameters, with an otherwise valid request.
  for (const [name, kind] of Object.entries(route.params)) {
    for (const bad of BAD_PATH_VALUES[kind]((ids as Record<string, string>)[name])) {
      variants.push({
        label: `${name}=${bad}`,
        url: fill(route.path, ids, { [name]: bad }),
        payload: validPayload,
        contentType: validPayload && 'application/json',
      });
    }
  }

  // Bodies that are not JSON at all, and oversized ones. DELETE routes get these too: Fastify parses a DELETE body.
  if (route.body || route.method === 'DELETE') {
    for (const raw of BROKEN_JSON)
      variants.push({
        label: `broken JSON ${JSON.stringify(raw)}`,
        url: validUrl,
        payload: raw,
        contentType: 'application/json',
        status: 400,
      });
    variants.push({
      label: '__proto__ key',
      url: validUrl,
      payload: '{"__proto__":{"polluted":true}}',
      contentType: 'application/json',
      status: 400,
    });
    variants.push({
      label: 'constructor.prototype key',
      url: validUrl,
      payload: '{"constructor":{"prototype":{"polluted":true}}}',
      contentType: 'application/json',
      status: 400,
    });
    const big = JSON.stringify({ ...(validBody ?? {}), padding: 'x'.repeat(101 * 1024) });
    variants.push({
      label: 'body over 100 KiB',
      url: validUrl,
      payload: big,
      contentType: 'application/json',
      status: 413,
    });
  }
  if (!route.body || !validBody) return variants;

  for (const raw of WRONG_SHAPES.filter((w) => !(route.partial && w === '{}')))
    variants.push({ label: `JSON ${raw}`, url: validUrl, payload: raw, contentType: 'application/json', status: 400 });
  variants.push({
    label: 'array of the valid body',
    url: validUrl,
    payload: JSON.stringify([validBody]),
    contentType: 'application/json',
    status: 400,
  });
  variants.push({ label: 'no body', url: validUrl, status: 400 });
  variants.push({
    label: 'valid body as text/plain',
    url: validUrl,
    payload: validPayload,
    contentType: 'text/plain',
    status: 400,
  });
  variants.push({
    label: 'valid body as application/xml',
    url: validUrl,
    payload: validPayload,
    contentType: 'application/xml',
  });
  variants.push({
    label: 'valid body as form data',
    url: validUrl,
    payload: 'a=1',
    contentType: 'application/x-www-form-urlencoded',
  });
  variants.push({
    label: 'an unknown top-level field',
    url: validUrl,
    payload: JSON.stringify({ ...validBody, unexpected: 1 }),
    contentType: 'application/json',
    status: 400,
  });
  variants.push({
    label: 'a NUL character in a key',
    url: validUrl,
    payload: JSON.stringify({ ...validBody, 'a\u0000b': 1 }),
    contentType: 'application/json',
    status: 400,
  });
  // Built as text (JSON.stringify would recurse 5000 deep); a repeated key wins, so this replaces a known field's value.
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  const deepObject = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
  const firstKey = JSON.stringify(Object.keys(validBody)[0]);
  variants.push({
    label: 'a 5000-deep array',
    url: validUrl,
    payload: `${validPayload!.slice(0, -1)},${firstKey}:${deep}}`,
    contentType: 'application/json',
    status: 400,
  });
  variants.push({
    label: 'a 3000-deep object',
    url: validUrl,
    payload: `${validPayload!.slice(0, -1)},${firstKey}:${deepObject}}`,
    contentType: 'application/json',
    status: 400,
  });

  for (const path of paths(validBody)) {
    const current = getAt(validBody, path);
    for (const wrong of wrongValues(current)) {
      variants.push({
        label: `${path.join('.')} = ${JSON.stringify(wrong)?.slice(0, 40)}`,
        url: validUrl,
        payload: JSON.stringify(withValueAt(validBody, path, wrong)),
        contentType: 'application/json',
        status: 400,
      });
    }
    // An unknown field inside every nested object.
    if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
      variants.push({
        label: `unknown field in ${path.join('.')}`,
        url: validUrl,
        payload: JSON.stringify(withValueAt(validBody, [...path, 'unexpected'], 1)),
        contentType: 'application/json',
        status: 400,
      });
    }
  }
  return variants;
}

async function send(app: NestFastifyApplication, method: HttpMethod, v: Variant): Promise<Response> {
  const headers: Record<string, string> = {};
  if (v.contentType) headers['content-type'] = v.contentType;
  // Through call(): every malformed request's answer must be one the OpenAPI document allows.
  return call(app, method, v.url, v.payload, headers);
}

/** A category with two products, and an order of one of them for `accountId`: what the routes' ids name. */
async function createIds(app: NestFastifyApplication, accountId: string): Promise<Ids> {
  const { category, product } = await createCategoryWithProduct(app, { stock: 100 });
  const other = await createProduct(app, category.id, { stock: 100 });
  const order = await createOrder(app, [{ productId: product.id, quantity: 1 }], { accountId });
  return {
    categoryId: category.id,
    slug: category.slug,
    productId: product.id,
    otherProductId: other.id,
    orderId: order.id,
    itemId: order.items[0].id,
    accountId,
  };
}

describe('bad-input sweep: every route, malformed requests → 4xx and no write (docs/contract.md §9.6)', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;
  let ids: Ids;

  beforeAll(async () => {
    app = await ctx().startBff(FOUNDATION_ENV);
    ids = await createIds(app, 'sweep-account');
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', async (_name, route) => {
    const variants = variantsOf(route, ids);
    expect(variants.length).toBeGreaterThan(5);
    const before = await snapshotDatabase(ctx().sql);
    const wrong: string[] = [];
    for (const v of variants) {
      const res = await send(app, route.method, v);
      const ok = v.status ? res.statusCode === v.status : res.statusCode >= 400 && res.statusCode < 500;
      let body: any;
      try {
        body = JSON.parse(res.body);
      } catch {
        body = undefined;
      }
      const errorShape =
        body && body.statusCode === res.statusCode && typeof body.error === 'string' && body.message !== undefined;
      if (!ok || !errorShape) wrong.push(`${v.label} → ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
    expect(await snapshotDatabase(ctx().sql)).toEqual(before);
  });

  it('the valid requests the sweep starts from really succeed (so each variant differs from a success)', async () => {
    // These write and delete, so on resources of their own (the sweep's stay as they were), in an order where
    // each finds what it needs: item changes while the order is pending, then the status change, then the deletes.
    const ids = await createIds(app, 'sweep-valid-account');
    const rank = (r: Route) =>
      r.method === 'GET'
        ? -1
        : r.method === 'DELETE'
          ? r.path.includes('items')
            ? 2
            : r.path.startsWith('/orders')
              ? 3
              : 4
          : r.path === '/orders/:orderId' && r.method === 'PATCH'
            ? 2.5
            : r.path.includes('items')
              ? 1
              : 0;
    const failures: string[] = [];
    for (const route of [...ROUTES].sort((a, b) => rank(a) - rank(b))) {
      const body = route.body?.(ids);
      const res = await send(app, route.method, {
        label: 'valid',
        url: fill(route.path, ids),
        payload: body ? JSON.stringify(body) : undefined,
        contentType: body ? 'application/json' : undefined,
      });
      if (![200, 201, 204].includes(res.statusCode))
        failures.push(`${route.method} ${route.path} → ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });
});
