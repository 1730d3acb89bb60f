/**
 * What the stream consumer (redis-streams.server.ts) does with an entry, as
 * pure decisions: the server only carries them out (XACK, XADD to the
 * dead-letter stream, sleeping, leaving the entry pending). Kept apart so every
 * branch is unit-tested without Redis.
 */

/** An entry's `event` field, parsed (`event`), or why it is not a valid envelope (`invalid`). */
export type Envelope<Event> = { event: Event } | { invalid: string };

/** What is known of an entry before its handler runs. */
export interface Delivery<Event> {
  /** Null when MAXLEN trimmed the entry before anyone handled it (XREADGROUP answers no fields). */
  envelope: Envelope<Event> | null;
  /** Times the entry has been delivered to the group, this delivery included (XPENDING). */
  deliveries: number;
  /** CDC_MAX_DELIVERIES. */
  maxDeliveries: number;
  /** The last handler error for this entry seen in this process, for the dead letter's reason. */
  lastError?: string;
}

export type Admission<Event> =
  { action: 'ack' } | { action: 'handle'; event: Event } | { action: 'dead-letter'; reason: string };

/** Before the handler: apply the entry, ack it as done, or dead-letter it (copy to `<stream>:dlq`, then ack). */
export function admit<Event>({ envelope, deliveries, maxDeliveries, lastError }: Delivery<Event>): Admission<Event> {
  // Trimmed unhandled: nothing is left to apply, and nothing to dead-letter.
  if (envelope === null) return { action: 'ack' };
  // Can never be applied, however often it is retried.
  if ('invalid' in envelope) return { action: 'dead-letter', reason: envelope.invalid };
  if (deliveries > maxDeliveries) {
    const last = lastError ? `; last error here: ${lastError}` : '';
    return { action: 'dead-letter', reason: `delivered ${deliveries} times without success${last}` };
  }
  return { action: 'handle', event: envelope.event };
}

/**
 * After the handler threw. While a dependency of the handlers (the cache's
 * Redis) is unavailable the failure is not the entry's: it is retried in place,
 * spending no delivery and letting nothing behind it overtake it. Otherwise it
 * is left pending: re-read later, its delivery count growing towards the
 * dead-letter stream. Stopping never waits in place: close() must finish.
 */
export function afterFailure(state: {
  running: boolean;
  dependencyUnavailable: boolean;
}): 'retry-in-place' | 'leave-pending' {
  return state.running && state.dependencyUnavailable ? 'retry-in-place' : 'leave-pending';
}

/** Wait before the `attempt`-th (0-based) in-place retry: 100, 200, 400 … ms, at most 2 s. */
export function inPlaceRetryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 2000);
}

/**
 * Applies a batch with `apply` and, when that throws, each half of it the same
 * way, down to the single entries that fail on their own: a batch without a
 * poison entry is one call, and one poison entry costs about 2·log2(n) more
 * (cheap when the failure is in the handler's mapping, before any Redis call).
 * Parts are applied in order. Answers the entries that failed alone, each with
 * its error; every other entry was applied by a call that succeeded. While
 * `stop()` is true a failed part is not split: all of it is answered as failed.
 */
export async function isolateFailures<Item>(
  items: readonly Item[],
  apply: (part: readonly Item[]) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<Map<Item, Error>> {
  const failed = new Map<Item, Error>();
  const run = async (part: readonly Item[]): Promise<void> => {
    if (part.length === 0) return;
    try {
      await apply(part);
      return;
    } catch (err) {
      if (part.length === 1 || stop()) {
        for (const item of part) failed.set(item, err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
    const half = Math.ceil(part.length / 2);
    await run(part.slice(0, half));
    await run(part.slice(half));
  };
  await run(items);
  return failed;
}
