import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, json } from '../harness/http';
import { TcpProxy } from '../../tools/tcp-proxy';
import { useTestContext } from '../harness/test-context';

/**
 * The invoices domain against a real apps/billing over HTTP (through a TCP
 * proxy, so the upstream can be cut or made to hang). TTL and grace are short
 * so expiry can be observed.
 */
describe('invoices: TTL cache over apps/billing with ETag revalidation', () => {
  const ctx = useTestContext();
  let billing: NestFastifyApplication;
  let proxy: TcpProxy;
  let bff: NestFastifyApplication;
  const TTL_MS = 1000;
  const GRACE_MS = 2000;

  const stats = async () => json(await call(billing, 'GET', '/stats')).listResponses as { 200: number; 304: number };
  const cacheStats = async () => json(await call(bff, 'GET', '/health/invoices/cache')).metrics.account;
  const invoices = (accountId = 'acme') => call(bff, 'GET', `/accounts/${accountId}/invoices`);
  // Time must pass: expiry by TTL is the behaviour under test (there is no clock to advance in the BFF).
  const expire = () => sleep(TTL_MS + 150);

  beforeAll(async () => {
    billing = await ctx().startBilling();
    const port = Number(new URL(await billing.getUrl()).port);
    proxy = await TcpProxy.start({ port });
    bff = await ctx().startBff({
      BILLING_URL: `http://127.0.0.1:${proxy.port}`,
      BILLING_TIMEOUT_MS: '300',
      INVOICES_TTL_SECONDS: String(TTL_MS / 1000),
      INVOICES_GRACE_SECONDS: String(GRACE_MS / 1000),
    });
    for (const [number, totalCents] of [
      ['INV-1', 1000],
      ['INV-2', 2500],
    ] as const) {
      const created = await call(billing, 'POST', '/accounts/acme/invoices', {
        number,
        totalCents,
        currency: 'EUR',
        dueDate: '2026-12-01',
      });
      expect(created.statusCode).toBe(201);
    }
  });

  afterAll(async () => {
    await proxy.close();
  });

  it('serves the upstream list, then hits within the TTL without calling billing', async () => {
    const before = await stats();
    const first = await invoices();
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(json(first).map((i: { number: string }) => i.number)).toEqual(['INV-1', 'INV-2']);
    expect(Object.keys(json(first)[0]).sort()).toEqual(['currency', 'dueDate', 'id', 'number', 'status', 'totalCents']);
    const second = await invoices();
    expect(second.headers['x-cache']).toBe('HIT-L1');
    expect(second.body).toBe(first.body);
    expect(await stats()).toEqual({ 200: before[200] + 1, 304: before[304] });
  });

  it('revalidates an expired entry with If-None-Match: a 304 keeps the body, nothing is transferred', async () => {
    const cached = await invoices();
    await expire();
    const before = await stats();
    const counters = await cacheStats();
    const revalidated = await invoices();
    expect(revalidated.statusCode).toBe(200);
    expect(revalidated.headers['x-cache']).toBe('HIT-L2');
    expect(revalidated.body).toBe(cached.body);
    expect(revalidated.headers.etag).toBe(cached.headers.etag);
    expect(await stats()).toEqual({ 200: before[200], 304: before[304] + 1 });
    expect((await cacheStats()).revalidatedNotModified).toBe(counters.revalidatedNotModified + 1);
    // The confirmation renewed the TTL: the next read is a plain hit.
    expect((await invoices()).headers['x-cache']).toBe('HIT-L1');
  });

  it('picks up an upstream change once the entry expires (200 and a new body)', async () => {
    const [first] = json(await invoices());
    expect((await call(billing, 'PATCH', `/invoices/${first.id}`, { totalCents: 1234 })).statusCode).toBe(200);
    expect(json(await invoices())[0].totalCents).toBe(1000); // within the TTL: still the cached list
    await expire();
    const before = await stats();
    const changed = await invoices();
    expect(changed.headers['x-cache']).toBe('MISS');
    expect(json(changed)[0].totalCents).toBe(1234);
    expect(await stats()).toEqual({ 200: before[200] + 1, 304: before[304] });
    expect((await cacheStats()).revalidatedModified).toBeGreaterThanOrEqual(1);
  });

  it('serves STALE while billing is down within the grace period, then 503', async () => {
    const cached = await invoices();
    await expire();
    await proxy.cut();
    try {
      const stale = await invoices();
      expect(stale.statusCode).toBe(200);
      expect(stale.headers['x-cache']).toBe('STALE');
      expect(stale.body).toBe(cached.body);
      // Time must pass: beyond the grace period, the stale entry may no longer be served.
      await sleep(GRACE_MS);
      const gone = await invoices();
      expect(gone.statusCode).toBe(503);
      expect(json(gone).message).toMatch(/billing service unavailable/);
      // No entry and no billing: an account never cached is a 503 at once.
      expect((await invoices('globex')).statusCode).toBe(503);
    } finally {
      await proxy.restore();
    }
    const recovered = await invoices();
    expect(recovered.statusCode).toBe(200);
    expect(recovered.headers['x-cache']).toBe('MISS');
  });

  it('treats a hung billing like a dead one: STALE after BILLING_TIMEOUT_MS, never a hang', async () => {
    await invoices();
    await expire();
    await proxy.blackhole();
    try {
      const started = Date.now();
      const stale = await invoices();
      expect(stale.headers['x-cache']).toBe('STALE');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await proxy.restore();
    }
  });

  it('rejects a bad account id with 400 and never calls billing', async () => {
    const before = await stats();
    const bad = await call(bff, 'GET', '/accounts/bad*id/invoices');
    expect(bad.statusCode).toBe(400);
    expect(json(bad).message).toEqual(expect.arrayContaining([expect.stringMatching(/accountId/)]));
    expect(await stats()).toEqual(before);
  });

  it('shows the bucket in /health/invoices/cache', async () => {
    // A STALE answer of its own to count, whatever the tests before it left.
    await invoices();
    await expire();
    const staleBefore = (await cacheStats()).stale;
    await proxy.cut();
    try {
      expect((await invoices()).headers['x-cache']).toBe('STALE');
    } finally {
      await proxy.restore();
    }

    const report = json(await call(bff, 'GET', '/health/invoices/cache'));
    expect(report.ttl).toEqual({ accountSeconds: TTL_MS / 1000 });
    expect(report.metrics.account).toMatchObject({
      hits: expect.any(Number),
      misses: expect.any(Number),
      stale: expect.any(Number),
      revalidatedNotModified: expect.any(Number),
      revalidatedModified: expect.any(Number),
    });
    expect(report.metrics.account.stale).toBe(staleBefore + 1);
  });
});
