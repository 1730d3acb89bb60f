import { admit, afterFailure, Delivery, inPlaceRetryDelayMs, isolateFailures } from './delivery-policy';

const event = { id: 'e1' };
/** A valid entry on its first delivery, with CDC_MAX_DELIVERIES = 5. */
const delivery = (overrides: Partial<Delivery<typeof event>> = {}): Delivery<typeof event> => ({
  envelope: { event },
  deliveries: 1,
  maxDeliveries: 5,
  ...overrides,
});

describe('admit: before the handler runs', () => {
  it('hands a valid entry to its handler, up to and including the last allowed delivery', () => {
    expect(admit(delivery())).toEqual({ action: 'handle', event });
    expect(admit(delivery({ deliveries: 5 }))).toEqual({ action: 'handle', event });
  });

  it('acks an entry trimmed before anyone handled it: nothing is left to apply', () => {
    expect(admit(delivery({ envelope: null }))).toEqual({ action: 'ack' });
    expect(admit(delivery({ envelope: null, deliveries: 99 }))).toEqual({ action: 'ack' });
  });

  it('dead-letters an invalid envelope at once, with the parse error, whatever its delivery count', () => {
    const invalid = { invalid: 'event is not JSON' };
    expect(admit(delivery({ envelope: invalid }))).toEqual({ action: 'dead-letter', reason: 'event is not JSON' });
    expect(admit(delivery({ envelope: invalid, deliveries: 9 }))).toEqual({
      action: 'dead-letter',
      reason: 'event is not JSON',
    });
  });

  it('dead-letters a valid entry delivered more than maxDeliveries times, with the last error seen here', () => {
    expect(admit(delivery({ deliveries: 6 }))).toEqual({
      action: 'dead-letter',
      reason: 'delivered 6 times without success',
    });
    expect(admit(delivery({ deliveries: 6, lastError: 'no handler for cdc.x.v1' }))).toEqual({
      action: 'dead-letter',
      reason: 'delivered 6 times without success; last error here: no handler for cdc.x.v1',
    });
  });
});

describe('afterFailure: once the handler threw', () => {
  it('retries in place while a dependency is unavailable, spending no delivery', () => {
    expect(afterFailure({ running: true, dependencyUnavailable: true })).toBe('retry-in-place');
  });

  it("leaves the entry pending when the failure is the entry's own: re-read later, counted", () => {
    expect(afterFailure({ running: true, dependencyUnavailable: false })).toBe('leave-pending');
  });

  it('never waits in place while stopping, so close() finishes', () => {
    expect(afterFailure({ running: false, dependencyUnavailable: true })).toBe('leave-pending');
    expect(afterFailure({ running: false, dependencyUnavailable: false })).toBe('leave-pending');
  });

  it('backs off 100, 200, 400 … ms between in-place retries, at most 2 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(inPlaceRetryDelayMs)).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });
});

describe('isolateFailures: a batch with poison entries', () => {
  /** An apply that fails for any part holding a poison item, and records the parts it applied. */
  function applier(poison: Set<number>) {
    const calls: number[][] = [];
    const applied: number[][] = [];
    const apply = async (part: readonly number[]) => {
      calls.push([...part]);
      const bad = part.find((i) => poison.has(i));
      if (bad !== undefined) throw new Error(`item ${bad} is poison`);
      applied.push([...part]);
    };
    return { calls, applied, apply };
  }
  const items = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('applies a batch without poison in one call', async () => {
    const { calls, apply } = applier(new Set());
    expect(await isolateFailures(items(1000), apply)).toEqual(new Map());
    expect(calls).toEqual([items(1000)]);
  });

  it('isolates one poison entry: it alone fails, every other entry is applied once, in order', async () => {
    const { calls, applied, apply } = applier(new Set([613]));
    const failed = await isolateFailures(items(1000), apply);
    expect([...failed.keys()]).toEqual([613]);
    expect(failed.get(613)?.message).toBe('item 613 is poison');
    expect(applied.flat()).toEqual(items(1000).filter((i) => i !== 613));
    // About two calls per halving: a poison costs O(log n) calls, not n.
    expect(calls.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)) + 1);
  });

  it('isolates several poison entries, each with its own error', async () => {
    const { applied, apply } = applier(new Set([0, 7, 8]));
    const failed = await isolateFailures(items(10), apply);
    expect([...failed.entries()].map(([i, err]) => [i, err.message])).toEqual([
      [0, 'item 0 is poison'],
      [7, 'item 7 is poison'],
      [8, 'item 8 is poison'],
    ]);
    expect(applied.flat()).toEqual([1, 2, 3, 4, 5, 6, 9]);
  });

  it('while stopping, answers a failed part as failed without splitting it', async () => {
    const { calls, apply } = applier(new Set([3]));
    const failed = await isolateFailures(items(10), apply, () => true);
    expect([...failed.keys()]).toEqual(items(10));
    expect(calls).toHaveLength(1);
  });

  it('turns anything thrown into an Error', async () => {
    const failed = await isolateFailures(['a'], () => Promise.reject('not an error'));
    expect(failed.get('a')).toEqual(new Error('not an error'));
  });
});
