/** Keeps the last N samples and answers percentiles over them. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly capacity = 2048) {}

  record(ms: number): void {
    if (this.samples.length < this.capacity) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
  }

  get count(): number {
    return this.samples.length;
  }

  /** {p50, p99, max} in ms over the window; nulls before the first sample. */
  summary(): { p50: number | null; p99: number | null; max: number | null } {
    if (this.samples.length === 0) return { p50: null, p99: null, max: null };
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
  }
}

/** What this process's subscriber has done, for /health/cdc and /metrics. */
export class CdcStats {
  processed = 0;
  failed = 0;
  deadLettered = 0;
  redelivered = 0;
  /** Times events were found trimmed by MAXLEN before this group read them (each time, their domain was dropped). */
  trimmed = 0;
  /** Commit (occurredAt) → invalidation done (L2 keys deleted), per applied event. */
  readonly invalidationLag = new LatencyWindow();
  /** Observers of each lag sample (the Prometheus histogram). */
  readonly lagListeners: ((ms: number) => void)[] = [];
  /** True while the subscriber's loop is reading (false when stopped or failing). */
  consuming = false;

  recordLag(ms: number): void {
    this.invalidationLag.record(ms);
    for (const listener of this.lagListeners) listener(ms);
  }
}
