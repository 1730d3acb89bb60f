import { CacheEntry } from '../model/cache-entry';
import { L1Cache } from './l1-cache';

const entry = (text: string): CacheEntry => ({ body: Buffer.from(text), etag: `"${text}"`, storedAt: 0 });

describe('L1Cache', () => {
  let now = 0;
  const clock = { now: () => now, sleep: async () => undefined };
  /** An L1 whose channel is subscribed and was confirmed just now. */
  const connected = (maxBytes = 1 << 20) => {
    const l1 = new L1Cache(true, maxBytes, 500, clock);
    l1.setConnected(true);
    l1.confirm(now);
    return l1;
  };

  it('answers only while the channel was confirmed within L1_MAX_STALENESS_MS', () => {
    const l1 = connected();
    l1.commit(l1.begin('k'), entry('v'));
    now += 500;
    expect(l1.get('k')).toBeDefined();
    now += 1; // no PONG for 501 ms: the channel may hang, an invalidation may be held in it
    expect(l1.get('k')).toBeUndefined();
    l1.confirm(now - 100); // a PONG to a PING sent 100 ms ago: every message before then has arrived
    expect(l1.get('k')).toBeDefined();
  });

  it('never moves the confirmation back (a late PONG of an older PING)', () => {
    const l1 = connected();
    l1.commit(l1.begin('k'), entry('v'));
    l1.confirm(now - 10_000);
    expect(l1.get('k')).toBeDefined();
  });

  it('forgets confirmations when the channel is lost', () => {
    const l1 = connected();
    l1.setConnected(false);
    l1.setConnected(true);
    l1.commit(l1.begin('k'), entry('v'));
    expect(l1.get('k')).toBeUndefined(); // subscribed again, but not confirmed since
  });

  it('stores what a clean read brings back', () => {
    const l1 = connected();
    l1.commit(l1.begin('k'), entry('v1'));
    expect(l1.get('k')?.body.toString()).toBe('v1');
  });

  it('does not store a read that an invalidation overtook', () => {
    const l1 = connected();
    const ticket = l1.begin('k');
    l1.delete(['k']);
    l1.commit(ticket, entry('old'));
    expect(l1.get('k')).toBeUndefined();
  });

  it('only fences the invalidated key', () => {
    const l1 = connected();
    const a = l1.begin('a');
    const b = l1.begin('b');
    l1.delete(['a']);
    l1.commit(a, entry('a'));
    l1.commit(b, entry('b'));
    expect(l1.get('a')).toBeUndefined();
    expect(l1.get('b')).toBeDefined();
  });

  it('is off and empty while the channel is down, and fences reads that span the drop', () => {
    const l1 = connected();
    l1.commit(l1.begin('k'), entry('v'));
    const spanning = l1.begin('j');
    l1.setConnected(false);
    expect(l1.get('k')).toBeUndefined();
    l1.commit(l1.begin('x'), entry('x'));
    l1.setConnected(true);
    l1.commit(spanning, entry('j'));
    expect(l1.size).toBe(0);
  });

  it('is never used when disabled', () => {
    const l1 = new L1Cache(false, 1 << 20, 500, clock);
    l1.setConnected(true);
    l1.confirm(now);
    l1.commit(l1.begin('k'), entry('v'));
    expect(l1.get('k')).toBeUndefined();
  });

  it('evicts by bytes', () => {
    const l1 = connected(2000);
    for (let i = 0; i < 10; i++) l1.commit(l1.begin(`k${i}`), entry('x'.repeat(300)));
    expect(l1.bytes).toBeLessThanOrEqual(2000);
    expect(l1.get('k9')).toBeDefined();
    expect(l1.get('k0')).toBeUndefined();
  });

  it('deletes by glob', () => {
    const l1 = connected();
    for (const k of ['orders:detail:1', 'orders:summaries:a', 'catalog:product:1']) l1.commit(l1.begin(k), entry(k));
    l1.deleteMatching('orders:*');
    expect(l1.get('orders:detail:1')).toBeUndefined();
    expect(l1.get('catalog:product:1')).toBeDefined();
  });

  it('deletes by a pathological glob without backtracking (a RegExp from it froze the process)', () => {
    const l1 = connected();
    const many = `catalog:listing:${'a'.repeat(120)}`;
    for (const k of [many, `${many}b`, 'catalog:product:1']) l1.commit(l1.begin(k), entry(k));
    const open = l1.begin(`catalog:listing:${'a'.repeat(60)}b`); // a read in flight is reached too
    l1.deleteMatching(`catalog:${'*a'.repeat(7)}*b`);
    expect(l1.get(many)).toBeDefined();
    expect(l1.get(`${many}b`)).toBeUndefined();
    expect(l1.get('catalog:product:1')).toBeDefined();
    expect(open.dirty).toBe(true);
  });

  it('leaves no bookkeeping behind', () => {
    const l1 = connected();
    const t = l1.begin('k');
    l1.close(t);
    l1.commit(l1.begin('k'), entry('v'));
    expect((l1 as unknown as { open: Map<string, unknown> }).open.size).toBe(0);
  });
});
