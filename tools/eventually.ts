import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** How long to keep trying (default 5000 ms). */
  timeoutMs?: number;
  /** The pause between two tries (default 20 ms; 0 tries again at once, after yielding to the event loop). */
  intervalMs?: number;
  /** What is waited for, for the timeout message: "the relay to take over". */
  message?: string;
}

/**
 * The one polling helper of the test suites: calls `probe` until it holds, or
 * fails once `timeoutMs` has run out, naming `message` and the last failure.
 *
 * A probe holds when it neither throws nor returns `false`, so it can be a
 * predicate or an assertion:
 *
 *   await eventually(() => l1Of(app).active, { message: 'L1 to be back on' });
 *   await eventually(async () => expect((await read(url)).status).toBe(200), { timeoutMs: 10_000 });
 *
 * Only booleans and nothing (void) may come back, so that a probe returning
 * "a value or undefined" cannot pass by accident: compare it to something.
 * The probe is tried at least once, however short the timeout.
 */
export async function eventually(
  probe: () => boolean | void | Promise<boolean | void>,
  { timeoutMs = 5000, intervalMs = 20, message = 'the condition' }: EventuallyOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      if ((await probe()) !== false) return;
      failure = 'still false';
    } catch (err) {
      failure = err;
    }
    if (Date.now() >= deadline) {
      const last = failure instanceof Error ? failure.message : String(failure);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message} (last try: ${last})`, {
        cause: failure,
      });
    }
    await sleep(intervalMs);
  }
}

/**
 * `eventually` for a probe that finds something: polls until `probe` answers a
 * value (not undefined, null or false) and returns it.
 *
 *   const down = await eventuallyValue(() => healthWhenDown(app), { message: '/health to turn cdc down' });
 */
export async function eventuallyValue<T>(
  probe: () => Promise<T | undefined | null | false>,
  options: EventuallyOptions = {},
): Promise<T> {
  let found: T | undefined;
  await eventually(async () => {
    const value = await probe();
    if (value === undefined || value === null || value === false) return false;
    found = value;
  }, options);
  return found as T;
}
