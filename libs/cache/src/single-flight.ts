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
    const promise = (async () => {
      try {
        return await fn();
      } finally {
        this.flights.delete(key);
      }
    })();
    this.flights.set(key, promise);
    return { promise, joined: false };
  }

  get size(): number {
    return this.flights.size;
  }
}
