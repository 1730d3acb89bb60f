import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { CatalogCacheService } from '../../apps/bff/src/catalog/catalog-cache.service';
import { eventually } from '../../tools/eventually';
import { CDC_ON, waitForCdc } from '../harness/cdc';
import { call, json, Response } from '../harness/http';
import { useSeededBff } from '../harness/seeded-bff';
import { testRedisEnv } from '../harness/test-redis';
import { appReader, expectViewsEqual, rawRedis, seedCatalog, warm } from './support';

/**
 * docs/contract.md §4: dead letters (`<stream>:dlq`, §6.3) can be listed with their errors
 * and, once the cause is fixed, redriven: re-published to their stream (all,
 * or the given ids) and removed from the dead-letter stream, by the admin
 * route or by `npm run cdc:redrive`.
 */
describe('CDC dead letters: listed with their errors, redriven once the handler is fixed', () => {
  const TOKEN = 'test-admin-token-0123456789';
  const BROKEN = 'catalog handler broken (test)';
  const suite = useSeededBff({
    // One failed delivery is enough to dead-letter an entry: the second delivery goes to the DLQ.
    instances: [{ ...CDC_ON, CDC_MAX_DELIVERIES: '1', ADMIN_TOKEN: TOKEN }],
    truth: true,
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 3),
  });
  let redis: Redis;
  beforeAll(() => {
    redis = rawRedis();
  });
  afterAll(() => redis.disconnect());

  const auth = { authorization: `Bearer ${TOKEN}` };
  const dlq = () => `${suite.ctx.redisPrefix}cdc.catalog.v1:dlq`;
  const list = (query = 'stream=cdc.catalog.v1') =>
    call(suite.bff, 'GET', `/admin/cdc/dead-letters?${query}`, undefined, auth);
  const redrive = (body: unknown) => call(suite.bff, 'POST', '/admin/cdc/dead-letters/redrive', body, auth);
  const ok = (res: Response) => {
    if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}: ${res.body}`);
    return json(res);
  };
  const productUrl = (i: number) => `/catalog/products/${suite.seeded.products[i].id}`;

  /** The catalog handler fails on every event until the returned function restores it. */
  function breakCatalogHandler(): () => void {
    const spy = jest.spyOn(suite.bff.get(CatalogCacheService), 'invalidate').mockRejectedValue(new Error(BROKEN));
    return () => spy.mockRestore();
  }

  /** Renames products by plain SQL while the handler is broken; answers the dead letters they became. */
  async function deadLetterRenames(indexes: number[], name: string): Promise<any[]> {
    const before = await redis.xlen(dlq());
    const restore = breakCatalogHandler();
    try {
      for (const i of indexes) {
        await suite.ctx.sql.query(`UPDATE catalog.products SET name = $1 WHERE id = $2`, [
          name,
          suite.seeded.products[i].id,
        ]);
      }
      await eventually(async () => (await redis.xlen(dlq())) === before + indexes.length, {
        timeoutMs: 20_000,
        message: `${indexes.length} more dead letter(s)`,
      });
      await waitForCdc(suite.bff, 20_000);
    } finally {
      restore();
    }
    return ok(await list()).deadLetters.slice(before);
  }

  it('lists a dead letter with its error; a redrive applies it and empties the DLQ', async () => {
    const { bff, truth } = suite;
    await warm(appReader(bff), [productUrl(0)]);
    const [letter] = await deadLetterRenames([0], 'Renamed while broken');

    // The rename's invalidation went to the DLQ: the cached view is stale.
    const stale = await appReader(bff)(productUrl(0));
    expect(stale).toMatchObject({ cache: 'HIT-L1', body: { name: expect.not.stringMatching('Renamed while broken') } });

    const listed = ok(await list());
    expect(listed).toEqual({ stream: 'cdc.catalog.v1', total: 1, next: null, deadLetters: [letter] });
    expect(letter).toEqual({
      id: expect.stringMatching(/^\d+-\d+$/),
      entryId: expect.stringMatching(/^\d+-\d+$/),
      error: expect.stringContaining(BROKEN),
      deliveries: 2,
      failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      event: expect.any(String),
    });
    expect(JSON.parse(letter.event)).toMatchObject({
      type: 'catalog.product.updated',
      aggregate: { type: 'product', id: suite.seeded.products[0].id },
    });

    // The handler is fixed (restored): redrive.
    expect(ok(await redrive({ stream: 'cdc.catalog.v1' }))).toEqual({
      stream: 'cdc.catalog.v1',
      redriven: 1,
      skipped: [],
      missing: [],
    });
    await waitForCdc(bff);
    const after = await expectViewsEqual(appReader(bff), appReader(truth), [productUrl(0)]);
    expect(after[productUrl(0)]).toMatchObject({ cache: 'MISS', body: { name: 'Renamed while broken' } });
    expect(await redis.xlen(dlq())).toBe(0);
    expect(ok(await list())).toEqual({ stream: 'cdc.catalog.v1', total: 0, next: null, deadLetters: [] });
  });

  it('redrives only the given ids, leaves what is not an envelope, reports ids it does not hold', async () => {
    const { bff, truth } = suite;
    const urls = [productUrl(1), productUrl(2)];
    await warm(appReader(bff), urls);
    const [first, second] = await deadLetterRenames([1, 2], 'Renamed again while broken');
    const notJson = await redis.xadd(`${suite.ctx.redisPrefix}cdc.catalog.v1`, '*', 'event', '{"truncated');
    await waitForCdc(bff);
    const page = ok(await list('stream=cdc.catalog.v1&limit=2'));
    expect(page.deadLetters).toEqual([first, second]);
    expect(page).toMatchObject({ total: 3, next: second.id });
    const rest = ok(await list(`stream=cdc.catalog.v1&after=${second.id}`));
    expect(rest).toMatchObject({
      total: 3,
      next: null,
      deadLetters: [{ entryId: notJson, error: 'event is not JSON' }],
    });
    const poison = rest.deadLetters[0];

    expect(ok(await redrive({ stream: 'cdc.catalog.v1', ids: [second.id, poison.id, '1-1'] }))).toEqual({
      stream: 'cdc.catalog.v1',
      redriven: 1,
      skipped: [{ id: poison.id, error: 'event is not JSON' }],
      missing: ['1-1'],
    });
    await waitForCdc(bff);
    // Product 2's rename is applied; product 1's is still a dead letter, so its view is still the old one.
    expect((await expectViewsEqual(appReader(bff), appReader(truth), [urls[1]]))[urls[1]].cache).toBe('MISS');
    expect((await appReader(bff)(urls[0])).cache).toBe('HIT-L1');
    expect(ok(await list()).deadLetters.map((l: any) => l.id)).toEqual([first.id, poison.id]);

    // The command does the same, for every dead letter of the stream.
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '-s', 'cdc:redrive', '--', '--stream', 'cdc.catalog.v1'],
      {
        cwd: path.resolve(__dirname, '../..'),
        env: { ...process.env, NODE_ENV: 'test', ...testRedisEnv(), CACHE_KEY_PREFIX: suite.ctx.redisPrefix },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('redriving every dead letter of cdc.catalog.v1');
    expect(stdout).toContain(`skipped ${poison.id} (left in the dead-letter stream): event is not JSON`);
    expect(stdout).toContain('done: cdc.catalog.v1: redriven 1, skipped 1, missing 0');
    await waitForCdc(bff);
    await expectViewsEqual(appReader(bff), appReader(truth), urls);
    expect(ok(await list()).deadLetters.map((l: any) => l.id)).toEqual([poison.id]);
  });

  it('serves only the streams this deployment consumes, with valid input and the admin token', async () => {
    const refused: [string, string | undefined][] = [
      ['stream=cdc.adv.v1', 'stream must be one this deployment consumes'],
      ['stream=cdc.catalog.v1:dlq', 'stream must be one this deployment consumes'],
      ['', undefined],
      ['stream=cdc.catalog.v1&limit=0', undefined],
      ['stream=cdc.catalog.v1&limit=1001', undefined],
      ['stream=cdc.catalog.v1&limit=ten', undefined],
      ['stream=cdc.catalog.v1&after=nope', undefined],
    ];
    for (const [query, message] of refused) {
      const res = await list(query);
      expect([query, res.statusCode]).toEqual([query, 400]);
      if (message) expect(json(res).message).toContain(message);
    }
    for (const body of [
      { stream: 'cdc.adv.v1' },
      { stream: 'cdc.orders.v1:dlq' },
      {},
      { stream: 'cdc.catalog.v1', ids: [] },
      { stream: 'cdc.catalog.v1', ids: ['nope'] },
      { stream: 'cdc.catalog.v1', ids: '1-1' },
      { stream: 'cdc.catalog.v1', extra: true },
    ]) {
      expect([body, (await redrive(body)).statusCode]).toEqual([body, 400]);
    }
    expect(ok(await list('stream=cdc.orders.v1'))).toEqual({
      stream: 'cdc.orders.v1',
      total: 0,
      next: null,
      deadLetters: [],
    });
    // Documented as admin routes, behind the bearer token, with their query and body.
    const doc = json(await call(suite.bff, 'GET', '/docs-json'));
    const listing = doc.paths['/admin/cdc/dead-letters'].get;
    const redriving = doc.paths['/admin/cdc/dead-letters/redrive'].post;
    for (const operation of [listing, redriving]) {
      expect(operation).toMatchObject({ tags: ['admin'], security: [{ bearer: [] }] });
    }
    expect(listing.parameters.map((p: any) => [p.in, p.name, p.required])).toEqual([
      ['query', 'stream', true],
      ['query', 'limit', false],
      ['query', 'after', false],
    ]);
    const body = doc.components.schemas[redriving.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    expect(body).toMatchObject({ required: ['stream'], properties: { stream: {}, ids: { type: 'array' } } });
    const unauthorised: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token' }];
    for (const headers of unauthorised) {
      expect(
        (await call(suite.bff, 'GET', '/admin/cdc/dead-letters?stream=cdc.catalog.v1', undefined, headers)).statusCode,
      ).toBe(401);
      expect(
        (await call(suite.bff, 'POST', '/admin/cdc/dead-letters/redrive', { stream: 'cdc.catalog.v1' }, headers))
          .statusCode,
      ).toBe(401);
    }
  });
});
