import { admit, afterFailure, Delivery, inPlaceRetryDelayMs } from './delivery-policy';

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
