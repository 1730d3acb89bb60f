import { FakeCacheStore } from '../engine/fake-cache-store';
import { SingleFlight } from '../engine/single-flight';
import { L1Cache } from '../l1/l1-cache';
import { CacheBucket } from '../model/cache-bucket';
import { CacheEntry } from '../model/cache-entry';
import { CacheRead } from '../model/cache-read';
import { EntryCodec } from '../model/entry-codec';
import { ManualClock } from '../model/manual-clock';
import { RevalidatingReads, RevalidationStore, UpstreamFetch, UpstreamResult } from './revalidating-reads';

interface Invoice {
  id: string;
  total: number;
}

const KEY = 'billing:invoice:7';
const TTL_MS = 60_000;
const GRACE_MS = 300_000;
const first: Invoice = { id: '7', total: 100 };
const second: Invoice = { id: '7', total: 120 };
const codec = new EntryCodec(Buffer.alloc(32, 1).toString('base64'));

const viewOf = (entry: CacheEntry | null | undefined): unknown => (entry ? JSON.parse(entry.body.toString()) : entry);
const ok = (view: Invoice, upstreamEtag: string): UpstreamResult<Invoice> => ({ status: 'ok', view, upstreamEtag });
const notModified: UpstreamResult<Invoice> = { status: 'not-modified' };
/** A source answering `results` in turn (the last one from then on), recording the ETag it was asked with. */
const source = (...results: UpstreamResult<Invoice>[]) =>
  jest.fn<Promise<UpstreamResult<Invoice>>, [string | undefined]>(async () =>
    results.length > 1 ? results.shift()! : results[0],
  );

type Counters = CacheBucket['counters'];

/** The counters that moved since `before`, by how much. */
function moved(before: Counters, after: Counters): Partial<Counters> {
  const names = Object.keys(after) as (keyof Counters)[];
  return Object.fromEntries(names.filter((n) => after[n] !== before[n]).map((n) => [n, after[n] - before[n]]));
}

function setup(options: { enabled?: boolean } = {}) {
  const clock = new ManualClock();
  const store = new FakeCacheStore(new ManualClock()); // Redis's own clock stays put: retention is not under test
  const instance = () => {
    const l1 = new L1Cache(true, 1 << 20, 3_600_000, clock);
    l1.setConnected(true);
    l1.confirm(clock.now());
    // The fake is a RevalidationStore by shape; engine/ may not import revalidation/ to say so.
    const revalidationStore: RevalidationStore = store;
    const reads = new RevalidatingReads(revalidationStore, l1, codec, {
      enabled: options.enabled ?? true,
      flights: new SingleFlight<CacheRead>(),
      clock,
    });
    const bucket = new CacheBucket<Invoice>('billing', 'invoice', {
      strategy: 'ttl',
      ttlSeconds: TTL_MS / 1000,
      graceSeconds: GRACE_MS / 1000,
    });
    return { l1, reads, bucket };
  };
  return { clock, store, a: instance(), b: instance() };
}

/** Fills KEY through `a` with the first invoice (upstream ETag "v1"), then lets it expire. */
async function filledThenExpired(env: ReturnType<typeof setup>, pastTtlMs = 1) {
  await env.a.reads.read(env.a.bucket, KEY, source(ok(first, '"v1"')));
  env.clock.advance(TTL_MS + pastTtlMs);
}

describe('RevalidatingReads: fresh entries', () => {
  it('a miss reads the source unconditionally and stores the entry with its upstream ETag', async () => {
    const { store, a } = setup();
    const fetch = source(ok(first, '"v1"'));
    const read = await a.reads.read(a.bucket, KEY, fetch);
    expect(read.status).toBe('MISS');
    expect(fetch).toHaveBeenCalledWith(undefined);
    expect(codec.decode(store.entry(KEY)!)).toMatchObject({ upstreamEtag: '"v1"' });
    expect(store.callsOf('put')[0][2]).toBe(TTL_MS + GRACE_MS); // Redis keeps it through the grace period
    expect(a.bucket.counters).toMatchObject({ misses: 1, hits: 0 });
  });

  it('within its TTL, answers from L1 without asking the source', async () => {
    const env = setup();
    const { clock, a } = env;
    const fetch = source(ok(first, '"v1"'));
    await a.reads.read(a.bucket, KEY, fetch);
    clock.advance(TTL_MS); // the last fresh instant
    const read = await a.reads.read(a.bucket, KEY, fetch);
    expect(read.status).toBe('HIT-L1');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(a.bucket.counters).toMatchObject({ hits: 1, l1Hits: 1, misses: 1 });
  });

  it('within its TTL, answers from L2 what another instance stored, and copies it into L1', async () => {
    const { a, b } = setup();
    await a.reads.read(a.bucket, KEY, source(ok(first, '"v1"')));
    const fetch = source(ok(second, '"v2"'));
    const read = await b.reads.read(b.bucket, KEY, fetch);
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(first);
    expect(viewOf(b.l1.get(KEY))).toEqual(first);
    expect(fetch).not.toHaveBeenCalled();
    expect(b.bucket.counters).toMatchObject({ hits: 1, l2Hits: 1 });
  });
});

describe('RevalidatingReads: expired entries', () => {
  it('asks with the stored upstream ETag; a 304 confirms the entry without storing it again', async () => {
    const env = setup();
    const { clock, store, a, b } = env;
    await filledThenExpired(env);
    const fetch = source(notModified);
    const read = await a.reads.read(a.bucket, KEY, fetch);
    expect(fetch).toHaveBeenCalledWith('"v1"');
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(first);
    expect(read.entry.storedAt).toBe(clock.now());
    expect(store.callsOf('put')).toHaveLength(1); // the first fill only
    expect(store.callsOf('confirm')).toEqual([[KEY, clock.now(), TTL_MS + GRACE_MS]]);
    expect(a.bucket.counters).toMatchObject({ revalidatedNotModified: 1, revalidatedModified: 0 });
    // The confirmation is shared: another instance finds the entry fresh again.
    expect((await b.reads.read(b.bucket, KEY, source(notModified))).status).toBe('HIT-L2');
    expect(b.bucket.counters.revalidatedNotModified).toBe(0);
  });

  it('a 200 replaces the entry, and the next revalidation asks with the new ETag', async () => {
    const env = setup();
    const { clock, store, a } = env;
    await filledThenExpired(env);
    const read = await a.reads.read(a.bucket, KEY, source(ok(second, '"v2"')));
    expect(read.status).toBe('MISS');
    expect(viewOf(read.entry)).toEqual(second);
    expect(viewOf(codec.decode(store.entry(KEY)!))).toEqual(second);
    expect(viewOf(a.l1.get(KEY))).toEqual(second);
    expect(a.bucket.counters).toMatchObject({ revalidatedModified: 1, revalidatedNotModified: 0 });
    clock.advance(TTL_MS + 1);
    const fetch = source(notModified);
    await a.reads.read(a.bucket, KEY, fetch);
    expect(fetch).toHaveBeenCalledWith('"v2"');
  });

  it('serves the expired entry as STALE when the source fails within the grace period', async () => {
    const env = setup();
    await filledThenExpired(env, GRACE_MS); // TTL + grace: the last instant of grace
    const { a } = env;
    const read = await a.reads.read(a.bucket, KEY, async () => Promise.reject(new Error('billing down')));
    expect(read.status).toBe('STALE');
    expect(viewOf(read.entry)).toEqual(first);
    expect(a.bucket.counters).toMatchObject({ stale: 1 });
  });

  it("passes the source's error on once the grace period is over", async () => {
    const env = setup();
    await filledThenExpired(env, GRACE_MS + 1);
    const { a } = env;
    await expect(a.reads.read(a.bucket, KEY, async () => Promise.reject(new Error('billing down')))).rejects.toThrow(
      'billing down',
    );
    expect(a.bucket.counters.stale).toBe(0);
  });

  it.each([
    ['a 304', notModified],
    ['a 200', ok(second, '"v2"')],
  ])('a flush while the source answers keeps %s out of L1 (ticket opened before I/O)', async (_what, result) => {
    const env = setup();
    await filledThenExpired(env);
    const { a } = env;
    let answer!: (r: UpstreamResult<Invoice>) => void;
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    const fetch: UpstreamFetch<Invoice> = () => {
      asked();
      return new Promise((r) => (answer = r));
    };
    const reading = a.reads.read(a.bucket, KEY, fetch);
    await wasAsked;
    a.l1.deleteMatching('billing:*'); // the admin flush
    answer(result);
    expect((await reading).entry).toBeDefined();
    expect(a.l1.get(KEY)).toBeUndefined();
  });
});

describe('RevalidatingReads: bypass', () => {
  it('reads the source unconditionally, without the store, while it is unavailable', async () => {
    const { store, a } = setup();
    store.available = false;
    const fetch = source(ok(first, '"v1"'));
    const read = await a.reads.read(a.bucket, KEY, fetch);
    expect(read.status).toBe('BYPASS');
    expect(fetch).toHaveBeenCalledWith(undefined);
    expect(store.calls).toEqual([]);
    expect(a.bucket.counters).toMatchObject({ bypassed: 1, misses: 0 });
  });

  it('bypasses when the cache is disabled', async () => {
    const { store, a } = setup({ enabled: false });
    expect((await a.reads.read(a.bucket, KEY, source(ok(first, '"v1"')))).status).toBe('BYPASS');
    expect(store.calls).toEqual([]);
  });

  it('bypasses when reading the store fails', async () => {
    const { store, a } = setup();
    store.failNext('getRevalidated');
    expect((await a.reads.read(a.bucket, KEY, source(ok(first, '"v1"')))).status).toBe('BYPASS');
    expect(a.bucket.counters).toMatchObject({ bypassed: 1, misses: 0 });
  });

  it.each([
    ['storing a miss', 'put', false, [ok(first, '"v1"')], { misses: 1 }],
    ['storing a 200', 'put', true, [ok(second, '"v2"')], { revalidatedModified: 1 }],
    // A real source answers an unconditional read with a 200: the second result, were it asked twice.
    ['confirming a 304', 'confirm', true, [notModified, ok(first, '"v1"')], { revalidatedNotModified: 1 }],
  ] as const)(
    'a store failure while %s answers with what the source said, read once and counted once',
    async (_what, method, expired, results, counted) => {
      const env = setup();
      if (expired) await filledThenExpired(env);
      const { clock, store, a } = env;
      const before = { ...a.bucket.counters };
      store.failNext(method);
      const fetch = source(...results);
      const read = await a.reads.read(a.bucket, KEY, fetch);
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(read.status).not.toBe('BYPASS');
      expect(a.l1.get(KEY)?.storedAt).not.toBe(clock.now()); // what Redis did not take, L1 does not keep
      expect(moved(before, a.bucket.counters)).toEqual(counted); // not also `bypassed`
    },
  );
});
