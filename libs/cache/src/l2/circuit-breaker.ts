export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before one probe is let through. */
  cooldownMs: number;
  now?: () => number;
}

/**
 * Stops a dead Redis from costing every request a timeout. Closed: calls pass.
 * After `failureThreshold` consecutive failures it opens and refuses calls for
 * `cooldownMs`; then it lets one probe through (half-open) and closes again on
 * success or reopens on failure.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go to Redis now. In half-open state only one caller gets a yes. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.openedAt !== undefined || this.failures >= this.options.failureThreshold) this.openedAt = this.now();
  }
}
