import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });

  beforeEach(() => (now = 0));

  it('stays closed below the threshold and resets on success', () => {
    const b = breaker();
    b.failure();
    b.failure();
    expect(b.allow()).toBe(true);
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
  });

  it('opens after consecutive failures and refuses calls during the cooldown', () => {
    const b = breaker();
    b.failure();
    b.failure();
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 999;
    expect(b.allow()).toBe(false);
  });

  it('lets exactly one probe through after the cooldown', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    now = 1000;
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
  });

  it('closes when the probe succeeds and reopens when it fails', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    now = 1000;
    b.allow();
    b.failure();
    expect(b.state).toBe('open');
    now = 2000;
    b.allow();
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });
});
