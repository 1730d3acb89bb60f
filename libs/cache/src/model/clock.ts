import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Time as the cache engine sees it. Injected so that the engine's decisions
 * (fill deadlines, how long to wait for another instance's fill, TTLs) can be
 * unit-tested in milliseconds with a clock the test moves.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
};
