import { eventually } from '../../tools/eventually';
import { useSeededBff } from '../harness/seeded-bff';
import { App, get, seedWorld, settle } from './support';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The hit answered by CachedHits compared with what the route itself sends. */
interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function request(base: string, url: string, init: RequestInit = {}): Promise<Seen> {
  const res = await fetch(base + url, init);
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** The count of the duration histogram for GET /catalog/products/:id with `status`, read from /metrics. */
async function observed(app: App, status: number): Promise<number> {
  const text = (await get(app, '/metrics')).body;
  const line = new RegExp(
    `^cachegate_http_request_duration_seconds_count\\{method="GET",route="/catalog/products/:id",status="${status}"\\} (\\d+)$`,
    'm',
  ).exec(text);
  return line ? Number(line[1]) : 0;
}

/**
 * Hits (CachedHits) write their response straight to Node's response over a
 * real connection, where Node renders the headers itself (Fastify's inject,
 * which the other suites use, takes another path through Node). Whatever the
 * path, a hit must answer as the route does: same headers, same bytes, the
 * request id, 304, HEAD, and the response hooks (duration histogram, log line).
 */
describe('hits over a real HTTP connection', () => {
  const suite = useSeededBff({ instances: [{}, { L1_ENABLED: 'false' }] });
  const urls: string[] = [];

  beforeAll(async () => {
    for (const app of suite.apps) {
      await app.listen(0, '127.0.0.1');
      urls.push((await app.getUrl()).replace('[::1]', '127.0.0.1'));
    }
  });

  it('answers L1 and L2 hits with the miss’s bytes and headers: content-type, etag, x-cache, content-length, x-request-id', async () => {
    const [withL1, withoutL1] = urls;
    const world = await seedWorld(suite.bff);
    await settle(suite.bff);
    const url = world.routes.product;

    const miss = await request(withL1, url);
    const l1 = await request(withL1, url);
    const l2 = await request(withoutL1, url);
    expect([miss.status, miss.headers['x-cache'], l1.headers['x-cache'], l2.headers['x-cache']]).toEqual([
      200,
      'MISS',
      'HIT-L1',
      'HIT-L2',
    ]);
    for (const hit of [l1, l2]) {
      expect(hit.status).toBe(200);
      expect(hit.body).toBe(miss.body);
      expect(Object.keys(hit.headers).sort()).toEqual(Object.keys(miss.headers).sort());
      expect(hit.headers).toMatchObject({
        'content-type': miss.headers['content-type'],
        etag: miss.headers.etag,
        'content-length': String(Buffer.byteLength(miss.body)),
        connection: 'keep-alive',
      });
      expect(hit.headers['x-request-id']).toMatch(UUID);
    }
    // A fresh id per request, also for hits answered from the same stored entry.
    const again = await request(withL1, url);
    expect(new Set([miss, l1, l2, again].map((r) => r.headers['x-request-id'])).size).toBe(4);
  });

  it("reuses a caller's sane x-request-id on a hit, and replaces one that is not", async () => {
    const [withL1, withoutL1] = urls;
    const world = await seedWorld(suite.bff);
    await settle(suite.bff);
    const url = world.routes.product;
    await request(withL1, url); // fills
    for (const base of [withL1, withoutL1]) {
      const own = await request(base, url, { headers: { 'x-request-id': 'trace-1.2:3_x' } });
      expect([own.headers['x-cache'].startsWith('HIT-'), own.headers['x-request-id']]).toEqual([true, 'trace-1.2:3_x']);
      const bad = await request(base, url, { headers: { 'x-request-id': 'no spaces allowed' } });
      expect(bad.headers['x-request-id']).toMatch(UUID);
    }
  });

  it('answers a matching If-None-Match with 304 (no body, no content-length) and HEAD with the headers alone', async () => {
    const [withL1, withoutL1] = urls;
    const world = await seedWorld(suite.bff);
    await settle(suite.bff);
    const url = world.routes.product;
    const miss = await request(withL1, url);
    for (const base of [withL1, withoutL1]) {
      const notModified = await request(base, url, { headers: { 'if-none-match': `W/${miss.headers.etag}` } });
      expect(notModified).toMatchObject({ status: 304, body: '' });
      expect(notModified.headers).toMatchObject({
        etag: miss.headers.etag,
        'content-type': miss.headers['content-type'],
      });
      expect(notModified.headers['x-cache']).toMatch(/^HIT-L[12]$/);
      expect(notModified.headers['x-request-id']).toMatch(UUID);
      expect(notModified.headers['content-length']).toBeUndefined();

      const stale = await request(base, url, { headers: { 'if-none-match': '"something-else"' } });
      expect([stale.status, stale.body]).toEqual([200, miss.body]);

      const head = await request(base, url, { method: 'HEAD' });
      expect([head.status, head.body, head.headers['content-length'], head.headers.etag]).toEqual([
        200,
        '',
        String(Buffer.byteLength(miss.body)),
        miss.headers.etag,
      ]);
      expect(head.headers['x-cache']).toMatch(/^HIT-L[12]$/);
    }
  });

  it('runs the response hooks for hits: each one is counted in the duration histogram under its status', async () => {
    const [withL1, withoutL1] = urls;
    const world = await seedWorld(suite.bff);
    await settle(suite.bff);
    const url = world.routes.product;
    const etag = (await request(withL1, url)).headers.etag; // a miss, then hits only
    for (const [app, base] of [
      [suite.apps[0], withL1],
      [suite.apps[1], withoutL1],
    ] as const) {
      const [ok, notModified] = [await observed(app, 200), await observed(app, 304)];
      for (let i = 0; i < 5; i++) expect((await request(base, url)).headers['x-cache']).toMatch(/^HIT-/);
      for (let i = 0; i < 3; i++) {
        expect((await request(base, url, { headers: { 'if-none-match': etag } })).status).toBe(304);
      }
      // Observed when each response has finished, which may be just after the client read it.
      await eventually(
        async () => expect([(await observed(app, 200)) - ok, (await observed(app, 304)) - notModified]).toEqual([5, 3]),
        { message: 'every hit to be observed' },
      );
    }
  });
});
