import type { Clock } from './clock';

interface Sleeper {
  wakeAt: number;
  wake: () => void;
}

/**
 * A Clock for unit tests: time moves only when the test calls `advance`, and a
 * `sleep` ends only when time has moved past it. With `nextSleep` a test waits
 * until the code under test is asleep (instead of guessing with real timers),
 * then decides how far time moves: every interleaving is written out, none is
 * left to the scheduler.
 */
export class ManualClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];
  private sleepWaiters: (() => void)[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ wakeAt: this.time + ms, wake });
      for (const notify of this.sleepWaiters.splice(0)) notify();
    });
  }

  /** How many sleeps are waiting for time to move. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Resolves once something is asleep on this clock (at once if something already is). */
  nextSleep(): Promise<void> {
    if (this.sleepers.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.sleepWaiters.push(resolve));
  }

  /** Moves time forward and wakes, in order, every sleep that is due. */
  advance(ms: number): void {
    if (ms < 0) throw new Error('time only moves forward');
    this.time += ms;
    const due = this.sleepers.filter((s) => s.wakeAt <= this.time).sort((a, b) => a.wakeAt - b.wakeAt);
    this.sleepers = this.sleepers.filter((s) => s.wakeAt > this.time);
    for (const sleeper of due) sleeper.wake();
  }

  /** Moves time to the earliest pending wake-up (no-op when nothing sleeps). */
  advanceToNextWake(): void {
    if (this.sleepers.length === 0) return;
    const next = Math.min(...this.sleepers.map((s) => s.wakeAt));
    this.advance(Math.max(0, next - this.time));
  }

  /**
   * Lets `work` run to its end, moving time to each wake-up it sleeps towards
   * (fake timers for this clock only). Never returns while `work` is blocked on
   * something other than this clock: the test then times out, and says so.
   */
  async runUntilSettled<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const done = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await Promise.race([done, this.nextSleep()]);
      if (!settled) this.advanceToNextWake();
    }
    return work;
  }
}
