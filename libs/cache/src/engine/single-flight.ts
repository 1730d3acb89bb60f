/**
 * In-process coalescing: concurrent callers for one key share one promise.
 * The entry is removed in `finally`, so a failed flight is never reused and
 * its error reaches every caller that joined it.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  /** Runs `fn` unless a flight for `key` is running; `joined` tells the caller which happened. */
  run(key: string, fn: () => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const running = this.flights.get(key);
    if (running) return { promise: running, joined: true };
    let promise: Promise<T> | undefined = undefined;
    promise = (async () => {
      try {
        return await fn();
      } finally {
        // Only our own entry: after `forget` the key may belong to a newer flight.
        if (this.flights.get(key) === promise) this.flights.delete(key);
      }
    })();
    this.flights.set(key, promise);
    return { promise, joined: false };
  }

  /**
   * Stops new callers from joining the running flights of these keys (they
   * start their own); the running ones still settle for those already waiting.
   * Used when a key is invalidated: a flight that began before may bring back
   * the old value, and nobody asking after the invalidation should get it.
   */
  forget(keys: Iterable<string>): void {
    for (const key of keys) this.flights.delete(key);
  }

  get size(): number {
    return this.flights.size;
  }
}
