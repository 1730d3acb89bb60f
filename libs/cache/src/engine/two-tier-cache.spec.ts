import { Logger } from '@nestjs/common';
import { L1Cache } from '../l1/l1-cache';
import { CacheBucket } from '../model/cache-bucket';
import { CacheEntry } from '../model/cache-entry';
import { EntryCodec } from '../model/entry-codec';
import { ManualClock } from '../model/manual-clock';
import { FakeCacheStore } from './fake-cache-store';
import { MAX_FILL_MS } from './stale-fill-guard';
import { TwoTierCache } from './two-tier-cache';

interface View {
  id: number;
  version: number;
  parts: string[];
}

const KEY = 'catalog:product:1';
const v1: View = { id: 1, version: 1, parts: ['x', 'y'] };
const v2: View = { id: 1, version: 2, parts: ['x', 'y'] };
const codec = new EntryCodec(Buffer.alloc(32, 1).toString('base64'));
const HOUR = 3_600_000;

const viewOf = (entry: CacheEntry | null | undefined): unknown => (entry ? JSON.parse(entry.body.toString()) : entry);
const stored = (raw: Buffer | null): unknown => viewOf(raw && codec.decode(raw));
/** One process's bucket (and counters) of views that depend on their parts. */
const newBucket = () =>
  new CacheBucket<View>('catalog', 'product', {
    strategy: 'cdc',
    dependencies: (view) => view.parts.map((p) => `catalog:part:${p}`),
  });

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

function deferred<T>(): Deferred<T> {
  const d = {} as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => Object.assign(d, { resolve, reject }));
  return d;
}

/** A source whose reads the test answers, oldest first, when it chooses. */
class Source {
  calls = 0;
  private readonly reads: Deferred<View>[] = [];
  private readonly watchers: { n: number; notify: () => void }[] = [];

  readonly load = (): Promise<View> => {
    this.calls++;
    const read = deferred<View>();
    this.reads.push(read);
    for (const w of this.watchers.filter((w) => w.n <= this.calls)) w.notify();
    return read.promise;
  };

  /** Resolves once the source has been read `n` times. */
  reached(n: number): Promise<void> {
    if (this.calls >= n) return Promise.resolve();
    return new Promise((notify) => this.watchers.push({ n, notify }));
  }

  answer(view: View): void {
    this.next().resolve(view);
  }

  fail(err: Error): void {
    this.next().reject(err);
  }

  private next(): Deferred<View> {
    const read = this.reads.shift();
    if (!read) throw new Error('no source read is waiting');
    return read;
  }
}

/**
 * Two processes over one store. Each has its own clock reading (`clock`, the
 * app servers') and the store has its own (`redisTime`): deadlines are Redis's.
 */
function setup(options: { enabled?: boolean } = {}) {
  const clock = new ManualClock();
  const redisTime = new ManualClock();
  const store = new FakeCacheStore(redisTime);
  const instance = (instanceId: string) => {
    // L1's channel confirmation is not under test here: confirmed now, good for an hour of manual time.
    const l1 = new L1Cache(true, 1 << 20, HOUR, clock);
    l1.setConnected(true);
    l1.confirm(clock.now());
    const cache = new TwoTierCache(store, l1, codec, { enabled: options.enabled ?? true, instanceId, clock });
    return { l1, cache, bucket: newBucket() };
  };
  return { clock, redisTime, store, a: instance('a'), b: instance('b') };
}

beforeAll(() => Logger.overrideLogger(false));

describe('TwoTierCache: hits', () => {
  it('answers a repeated read from L1 and counts an L1 hit', async () => {
    const { a } = setup();
    const load = jest.fn(async () => v1);
    expect((await a.cache.read(a.bucket, KEY, load)).status).toBe('MISS');
    const read = await a.cache.read(a.bucket, KEY, load);
    expect(read.status).toBe('HIT-L1');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(viewOf(a.cache.peek(a.bucket, KEY))).toEqual(v1);
    expect(load).toHaveBeenCalledTimes(1);
    expect(a.bucket.counters).toMatchObject({ hits: 2, l1Hits: 2, l2Hits: 0, misses: 1 });
  });

  it('answers from L2 what another instance filled, copies it into L1 and counts an L2 hit', async () => {
    const { a, b } = setup();
    await a.cache.read(a.bucket, KEY, async () => v1);
    const load = jest.fn(async () => v2);
    const read = await b.cache.read(b.bucket, KEY, load);
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(viewOf(b.l1.get(KEY))).toEqual(v1);
    expect((await b.cache.read(b.bucket, KEY, load)).status).toBe('HIT-L1');
    expect(load).not.toHaveBeenCalled();
    expect(b.bucket.counters).toMatchObject({ hits: 2, l2Hits: 1, l1Hits: 1, misses: 0 });
  });

  it('lookup answers an L2 hit (copied into L1), null when L2 has no entry, and never reads the source', async () => {
    const { a, b } = setup();
    expect(await b.cache.lookup(b.bucket, KEY)).toBeNull();
    await a.cache.read(a.bucket, KEY, async () => v1);
    expect(viewOf(await b.cache.lookup(b.bucket, KEY))).toEqual(v1);
    expect(viewOf(b.l1.get(KEY))).toEqual(v1);
    expect(b.bucket.counters).toMatchObject({ hits: 1, l2Hits: 1, misses: 0 });
  });

  it('lookup answers undefined, not null, for an entry it cannot read or a failing store', async () => {
    const { store, a } = setup();
    store.setEntry(KEY, Buffer.from('sealed with another key'));
    expect(await a.cache.lookup(a.bucket, KEY)).toBeUndefined();
    store.failNext('get');
    expect(await a.cache.lookup(a.bucket, KEY)).toBeUndefined();
    expect(a.bucket.counters).toMatchObject({ hits: 0, l2Hits: 0 });
  });
});

describe('TwoTierCache: a read right after lookup found no L2 entry (afterL2Miss)', () => {
  it('does not ask L2 again: it takes the lease (unless filled) and fills', async () => {
    const { store, a } = setup();
    expect(await a.cache.lookup(a.bucket, KEY)).toBeNull();
    const read = await a.cache.read(a.bucket, KEY, async () => v1, true);
    expect(read.status).toBe('MISS');
    expect(store.callsOf('get')).toHaveLength(1); // lookup's only
    expect(store.callsOf('acquireLease')[0][3]).toBe(true);
    expect(stored(store.entry(KEY))).toEqual(v1);
    expect(viewOf(a.l1.get(KEY))).toEqual(v1);
    expect(a.bucket.counters).toMatchObject({ misses: 1, l2Hits: 0, coalesced: 0 });
  });

  it('still answers a fill that landed after the lookup, by polling, without reading the source', async () => {
    const { clock, store, a, b } = setup();
    expect(await b.cache.lookup(b.bucket, KEY)).toBeNull();
    await a.cache.read(a.bucket, KEY, async () => v1); // a fills after b looked
    const gets = store.callsOf('get').length;
    const otherLoad = jest.fn(async () => v2);
    const read = await clock.runUntilSettled(b.cache.read(b.bucket, KEY, otherLoad, true));
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(otherLoad).not.toHaveBeenCalled();
    expect(store.callsOf('get')).toHaveLength(gets); // the lease refused (filled), the poll found it
    expect(store.callsOf('probe')).toHaveLength(1);
    expect(viewOf(b.l1.get(KEY))).toEqual(v1);
    expect(b.bucket.counters).toMatchObject({ misses: 0, coalesced: 1 });
  });
});

describe('TwoTierCache: misses and coalescing', () => {
  it('reads the source once on a miss, fills L2 (with its dependencies) and L1, and counts misses: 1', async () => {
    const { store, a } = setup();
    const read = await a.cache.read(a.bucket, KEY, async () => v1);
    expect(read.status).toBe('MISS');
    expect(stored(store.entry(KEY))).toEqual(v1);
    expect(store.dependents('catalog:part:y')).toEqual([KEY]);
    expect(store.leaseHolder(KEY)).toBeUndefined();
    expect(viewOf(a.l1.get(KEY))).toEqual(v1);
    expect(a.bucket.counters).toMatchObject({ hits: 0, misses: 1, coalesced: 0, staleFillsDiscarded: 0 });
  });

  it('coalesces concurrent reads in one process into one source read', async () => {
    const { a } = setup();
    const source = new Source();
    const reads = [1, 2, 3].map(() => a.cache.read(a.bucket, KEY, source.load));
    await source.reached(1);
    source.answer(v1);
    const results = await Promise.all(reads);
    expect(results.map((r) => viewOf(r.entry))).toEqual([v1, v1, v1]);
    expect(source.calls).toBe(1);
    expect(a.bucket.counters).toMatchObject({ misses: 1, coalesced: 2 });
  });

  it('another instance waits for the lease holder and is answered by its fill', async () => {
    const { clock, a, b } = setup();
    const source = new Source();
    const filling = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    const otherLoad = jest.fn(async () => v2);
    const waiting = b.cache.read(b.bucket, KEY, otherLoad);
    await clock.nextSleep(); // b found the lease taken and backs off
    source.answer(v1);
    expect((await filling).status).toBe('MISS');
    const read = await clock.runUntilSettled(waiting);
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(otherLoad).not.toHaveBeenCalled();
    expect(viewOf(b.l1.get(KEY))).toEqual(v1);
    expect(b.bucket.counters).toMatchObject({ misses: 0, coalesced: 1 });
  });

  it('another instance reads the source unfilled once waitMs (2 s by its clock) has passed', async () => {
    const { clock, store, a, b } = setup();
    const source = new Source();
    const filling = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    const start = clock.now();
    const read = await clock.runUntilSettled(b.cache.read(b.bucket, KEY, async () => v2));
    expect(read.status).toBe('MISS');
    expect(viewOf(read.entry)).toEqual(v2);
    expect(clock.now() - start).toBeGreaterThanOrEqual(2000);
    expect(clock.now() - start).toBeLessThan(2100);
    // Read, not filled: the lease is still a's, and nothing reached L2 or b's L1.
    expect(store.callsOf('fill')).toHaveLength(0);
    expect(store.leaseHolder(KEY)).toMatch(/^a:/);
    expect(b.l1.get(KEY)).toBeUndefined();
    expect(b.bucket.counters).toMatchObject({ misses: 1, coalesced: 0 });
    source.answer(v1);
    await filling;
  });

  it('a failing source read releases the lease and fails every joined caller; a waiting instance takes over', async () => {
    const { clock, store, a, b } = setup();
    const source = new Source();
    const first = a.cache.read(a.bucket, KEY, source.load);
    const joined = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    const otherLoad = jest.fn(async () => v2);
    const waiting = b.cache.read(b.bucket, KEY, otherLoad);
    await clock.nextSleep();
    source.fail(new Error('database down'));
    await expect(first).rejects.toThrow('database down');
    await expect(joined).rejects.toThrow('database down');
    expect(store.leaseHolder(KEY)).toBeUndefined();
    // b's next poll finds neither entry nor lease: it takes the lease and fills.
    const read = await clock.runUntilSettled(waiting);
    expect(read.status).toBe('MISS');
    expect(otherLoad).toHaveBeenCalledTimes(1);
    expect(stored(store.entry(KEY))).toEqual(v2);
    expect(a.bucket.counters).toMatchObject({ misses: 0, coalesced: 1 });
  });

  it('polls, not re-reads, when the entry is filled between its L2 miss and its lease (unless filled)', async () => {
    const { clock, store, a, b } = setup();
    const leaseCall = store.hold('acquireLease');
    const otherLoad = jest.fn(async () => v2);
    const waiting = b.cache.read(b.bucket, KEY, otherLoad);
    await leaseCall.reached; // b missed L2 and asks for the lease...
    await a.cache.read(a.bucket, KEY, async () => v1); // ...while a fills
    leaseCall.release();
    const read = await clock.runUntilSettled(waiting);
    expect(read.status).toBe('HIT-L2');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(otherLoad).not.toHaveBeenCalled();
    expect(b.bucket.counters).toMatchObject({ misses: 0, coalesced: 1 });
  });

  it('replaces an L2 entry it cannot read with a fill', async () => {
    const { store, a } = setup();
    store.setEntry(KEY, Buffer.from('sealed with another key'));
    const read = await a.cache.read(a.bucket, KEY, async () => v1);
    expect(read.status).toBe('MISS');
    expect(store.callsOf('acquireLease')[0][3]).toBe(false); // unlessFilled off: the entry there is no answer
    expect(stored(store.entry(KEY))).toEqual(v1);
  });
});

describe('TwoTierCache: stale fills', () => {
  it('does not write a fill that took longer than MAX_FILL_MS, and counts it discarded', async () => {
    const { clock, store, a } = setup();
    const source = new Source();
    const reading = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    clock.advance(MAX_FILL_MS + 1);
    source.answer(v1);
    const read = await reading;
    expect(read.status).toBe('MISS');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(store.callsOf('fill')).toHaveLength(0); // decided by the client: no round trip
    expect(store.entry(KEY)).toBeNull();
    expect(store.leaseHolder(KEY)).toBeUndefined();
    expect(a.l1.get(KEY)).toBeUndefined();
    expect(a.bucket.counters).toMatchObject({ misses: 1, staleFillsDiscarded: 1 });
  });

  it.each([
    ['the key', [KEY], []],
    ['one of its dependencies', [], ['catalog:part:y']],
  ])(
    'an invalidation of %s between lease and fill fences the fill off; the caller still gets what it read',
    async (_what, keys: string[], dependencies: string[]) => {
      const { store, a, b } = setup();
      const source = new Source();
      const reading = a.cache.read(a.bucket, KEY, source.load);
      await source.reached(1);
      // The CDC event is applied by another instance: a's L1 ticket is untouched, only the store's fence acts.
      await b.cache.invalidate(keys, dependencies);
      source.answer(v1);
      const read = await reading;
      expect(read.status).toBe('MISS');
      expect(viewOf(read.entry)).toEqual(v1);
      expect(store.callsOf('fill')).toHaveLength(1); // refused by the store, not skipped by the client
      expect(store.entry(KEY)).toBeNull();
      expect(a.l1.get(KEY)).toBeUndefined();
      expect(a.bucket.counters).toMatchObject({ misses: 1, staleFillsDiscarded: 1 });
    },
  );

  it('an invalidation before the lease, or of something else, lets the fill through', async () => {
    const { store, a, b } = setup();
    await b.cache.invalidate([KEY], ['catalog:part:x']);
    const source = new Source();
    const reading = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    await b.cache.invalidate(['catalog:product:2'], ['catalog:part:z']);
    source.answer(v1);
    await reading;
    expect(stored(store.entry(KEY))).toEqual(v1);
    expect(viewOf(a.l1.get(KEY))).toEqual(v1);
    expect(a.bucket.counters.staleFillsDiscarded).toBe(0);
  });

  it("a fill reaching the store after its deadline (the store's clock) is refused as expired", async () => {
    const { redisTime, store, a } = setup();
    const fillCall = store.hold('fill');
    const reading = a.cache.read(a.bucket, KEY, async () => v1);
    await fillCall.reached; // sent in time by the client's clock; stuck on the way
    redisTime.advance(MAX_FILL_MS + 1);
    fillCall.release();
    const read = await reading;
    expect(viewOf(read.entry)).toEqual(v1);
    expect(store.entry(KEY)).toBeNull();
    expect(store.leaseHolder(KEY)).toBeUndefined();
    expect(a.l1.get(KEY)).toBeUndefined();
    expect(a.bucket.counters).toMatchObject({ misses: 1, staleFillsDiscarded: 1 });
  });

  it('a fill reaching the store exactly at its deadline is written', async () => {
    const { redisTime, store, a } = setup();
    const fillCall = store.hold('fill');
    const reading = a.cache.read(a.bucket, KEY, async () => v1);
    await fillCall.reached;
    redisTime.advance(MAX_FILL_MS);
    fillCall.release();
    await reading;
    expect(stored(store.entry(KEY))).toEqual(v1);
    expect(a.bucket.counters.staleFillsDiscarded).toBe(0);
  });

  it('a read after an invalidation does not join the fill in flight before it', async () => {
    const { store, a, b } = setup();
    // What InvalidationBus does on a for every message of the channel.
    store.subscribe(({ keys = [] }) => {
      a.l1.delete(keys);
      a.cache.forgetFlights(keys);
    });
    const source = new Source();
    const before = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    await b.cache.invalidate([KEY]);
    const load = jest.fn(async () => v2);
    const after = a.cache.read(a.bucket, KEY, load);
    source.answer(v1);
    // Had it joined, `after` would get v1: read before the invalidation, possibly old.
    expect(viewOf((await after).entry)).toEqual(v2);
    expect(viewOf((await before).entry)).toEqual(v1);
    expect(load).toHaveBeenCalledTimes(1);
    expect(stored(store.entry(KEY))).toEqual(v2);
    expect(viewOf(a.l1.get(KEY))).toEqual(v2);
    expect(a.bucket.counters).toMatchObject({ misses: 2, coalesced: 0, staleFillsDiscarded: 1 });
  });
});

describe('TwoTierCache: invalidate', () => {
  it('drops the keys and the views recorded under a dependency, from L2 and from its own L1 at once', async () => {
    const { store, a } = setup();
    const other = 'catalog:product:2';
    await a.cache.read(a.bucket, KEY, async () => v1);
    await a.cache.read(a.bucket, other, async () => ({ id: 2, version: 1, parts: ['x'] }));
    expect(await a.cache.invalidate([], ['catalog:part:x'])).toEqual([KEY, other]);
    for (const key of [KEY, other]) {
      expect(store.entry(key)).toBeNull();
      expect(a.l1.get(key)).toBeUndefined();
    }
    expect(store.published).toEqual([{ keys: [KEY, other], origin: 'a' }]);
  });

  it('drops a whole domain and fences off its fills in flight, leaving other domains alone', async () => {
    const { store, a, b } = setup();
    const elsewhere = 'orders:order:1';
    await a.cache.read(a.bucket, elsewhere, async () => v1);
    const source = new Source();
    const reading = a.cache.read(a.bucket, KEY, source.load);
    await source.reached(1);
    await b.cache.invalidateAll('catalog'); // a TRUNCATE: no key is named, the domain's marker fences
    source.answer(v1);
    expect(viewOf((await reading).entry)).toEqual(v1);
    expect(store.entry(KEY)).toBeNull();
    expect(stored(store.entry(elsewhere))).toEqual(v1);
    expect(a.bucket.counters.staleFillsDiscarded).toBe(1);
    expect(store.published).toEqual([{ flush: 'catalog:*', origin: 'b' }]);
  });
});

describe('TwoTierCache: bypass', () => {
  it('reads the source without touching the store while it is unavailable', async () => {
    const { store, a } = setup();
    store.available = false;
    const read = await a.cache.read(a.bucket, KEY, async () => v1);
    expect(read.status).toBe('BYPASS');
    expect(viewOf(read.entry)).toEqual(v1);
    expect(await a.cache.lookup(a.bucket, KEY)).toBeUndefined();
    expect(store.calls).toEqual([]);
    expect(a.bucket.counters).toMatchObject({ bypassed: 1, misses: 0 });
  });

  it.each(['get', 'acquireLease'] as const)('falls back to the source when %s fails during a read', async (method) => {
    const { store, a } = setup();
    store.failNext(method);
    const load = jest.fn(async () => v1);
    const read = await a.cache.read(a.bucket, KEY, load);
    expect(read.status).toBe('BYPASS');
    expect(load).toHaveBeenCalledTimes(1);
    expect(a.bucket.counters).toMatchObject({ bypassed: 1, misses: 0 });
  });

  it('a store failure while writing the fill still answers the caller, uncached', async () => {
    const { store, a } = setup();
    store.failNext('fill');
    const load = jest.fn(async () => v1);
    const read = await a.cache.read(a.bucket, KEY, load);
    expect(read.status).toBe('MISS');
    expect(load).toHaveBeenCalledTimes(1);
    expect(store.entry(KEY)).toBeNull();
    expect(a.l1.get(KEY)).toBeUndefined();
    expect(a.bucket.counters).toMatchObject({ misses: 1, bypassed: 0, staleFillsDiscarded: 0 });
  });

  it('serves everything from the source when the cache is disabled', async () => {
    const { store, a } = setup({ enabled: false });
    const read = await a.cache.read(a.bucket, KEY, async () => v1);
    expect(read.status).toBe('BYPASS');
    expect(a.cache.peek(a.bucket, KEY)).toBeUndefined();
    expect(await a.cache.lookup(a.bucket, KEY)).toBeUndefined();
    expect(store.calls).toEqual([]);
    expect(a.bucket.counters).toMatchObject({ bypassed: 1 });
  });
});
