/**
 * Stale reads of the `workload` scenario (docs/BENCHMARKS.md, "Workload"). Every write
 * raises a row's value (`price_cents + 1`), so values are comparable per row: a read of
 * row r sent at time t that answers value v is **stale** when some write of r had
 * committed before t (its UPDATE had returned to the writer) with a value above v. Its
 * **age** is t minus the commit of the earliest such write: how long the value had
 * been superseded when the read was sent.
 */

/** Reads older than this after a commit are counted apart: what a CDC pipeline's lag cannot explain. */
export const LATE_STALE_MS = 100;

interface Commit {
  at: number;
  /** The highest value committed up to and including this one (commits of one row can return out of order). */
  highest: number;
  value: number;
}

/** What one read was, against the writes that had committed before it was sent. */
export interface ReadClass {
  /** A write of the row had committed before the read was sent: the read could have been stale. */
  afterWrite: boolean;
  /** ms since the earliest committed write the answer does not show; null when the answer is current. */
  staleMs: number | null;
}

/** Every committed write of each row, in the order the writer saw them commit. */
export class WriteLedger {
  private readonly rows = new Map<string, Commit[]>();

  /** The writer's UPDATE of `row` to `value` returned at `at` (the bench's clock, non-decreasing). */
  committed(row: string, value: number, at: number): void {
    let commits = this.rows.get(row);
    if (!commits) this.rows.set(row, (commits = []));
    const previous = commits[commits.length - 1];
    if (previous && at < previous.at) throw new Error(`commits of ${row} recorded out of clock order`);
    commits.push({ at, value, highest: Math.max(value, previous?.highest ?? -Infinity) });
  }

  /** A read of `row` sent at `sentAt` answered `value`. */
  classify(row: string, sentAt: number, value: number): ReadClass {
    const commits = this.rows.get(row);
    if (!commits || commits.length === 0 || commits[0].at >= sentAt) return { afterWrite: false, staleMs: null };
    // The last commit before the read was sent carries the highest value committed by then.
    let last = commits.length - 1;
    while (commits[last].at >= sentAt) last--;
    if (value >= commits[last].highest) return { afterWrite: true, staleMs: null };
    const missed = commits.find((c) => c.value > value)!;
    return { afterWrite: true, staleMs: sentAt - missed.at };
  }
}

/** Counts of a run's reads by class. */
export class StaleTally {
  reads = 0;
  afterWrite = 0;
  stale = 0;
  /** Stale by more than LATE_STALE_MS. */
  late = 0;
  maxStaleMs = 0;

  add(read: ReadClass): void {
    this.reads++;
    if (read.afterWrite) this.afterWrite++;
    if (read.staleMs === null) return;
    this.stale++;
    if (read.staleMs > LATE_STALE_MS) this.late++;
    this.maxStaleMs = Math.max(this.maxStaleMs, read.staleMs);
  }
}
