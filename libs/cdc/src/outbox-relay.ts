import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { closeClient, HangSafeClient, QUERY_READ_TIMEOUT } from '@app/database';
import { CAPTURE_RESUMED_INSTALLED_SQL, CAPTURE_RESUMED_TRIGGER } from './capture-triggers';
import { MESSAGE_VERSION, streamPattern } from './cdc-event';
import { outboxEnvelopeSql } from './outbox-envelope';
import { OutgoingEvent, RedisStreamsClient } from './redis-streams.client';

export interface OutboxRelayOptions {
  databaseUrl: string;
  /** Domains published to more than their row's schema version (CDC_DUAL_PUBLISH). */
  dualPublish: Record<string, number[]>;
  /** Published rows older than this are deleted. */
  retentionMs: number;
  pollMs?: number;
  batchSize?: number;
  /** CDC_RELAY_STALL_MS: the leader steps down after this long with rows waiting and no publish succeeding. */
  stallMs?: number;
  /**
   * A Postgres query of the relay with no answer after this long is given up and its connection closed
   * (HangSafeClient): a connection that hangs (bytes held, nothing closed) would otherwise keep the relay waiting
   * for good. Default 30 s: long enough for a prune of a large backlog of published rows.
   */
  queryTimeoutMs?: number;
}

/** The relay's last failed publish attempt, for /health (cleared by the next successful one). */
export interface PublishFailure {
  message: string;
  at: Date;
  /** Redis refused the write for memory: maxmemory reached under a noeviction policy. */
  oom: boolean;
}

/** The lower of two outbox ids. */
const lower = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** A row of cdc.outbox as the relay reads it. */
export interface OutboxRow {
  id: string;
  event_id: string;
  domain: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  source: string;
  data: Record<string, unknown>;
  keys: string[];
  schema_version: number;
  occurred_at: Date;
}

/** A row of cdc.outbox as a pass publishes it: its docs/contract.md §6.2 envelope already built by Postgres. */
interface PendingRow {
  id: string;
  domain: string;
  schema_version: number;
  /** The envelope's JSON, for the row's own schema version. */
  event: string;
}

const LEADER_LOCK = 'cachegate:outbox-relay';

/**
 * Per pass: how many times a page is dropped and read again from a lower floor (committedBelow). A bound, so
 * a stream of commits cannot keep a pass from publishing; past it, pages are published as read.
 */
const MAX_REREADS = 10;
const PRUNE_EVERY_MS = 60_000;

/**
 * A page of unpublished rows in capture order, after id $2 (0 at the start of
 * every pass: no high-water mark survives a pass).
 */
const SELECT_UNPUBLISHED = `
  SELECT id, domain, schema_version, ${outboxEnvelopeSql(3)} AS event
    FROM cdc.outbox WHERE published_at IS NULL AND id > $2 ORDER BY id LIMIT $1`;

/**
 * Publishes outbox rows to Redis Streams (docs/contract.md §6.1).
 *
 * - Leadership: exactly one relay publishes at a time, the one holding a
 *   session advisory lock on its own Postgres connection. When that process
 *   dies its connection closes, the lock is freed, and another relay's next
 *   attempt (every pollMs) takes over.
 * - It wakes on NOTIFY cachegate_cdc, whose payload is the committing
 *   transaction's floor: every outbox row it wrote has a higher id (migration
 *   1763700700000). That pass starts there, so rows of transactions still open
 *   below the ones just committed are not walked again for every commit. It
 *   walks from the start at least once a poll period (every commit resets the
 *   poll timer, so under steady writes the poll alone would not), after a
 *   failed pass and on taking the lead: the fallback for a missed notification.
 * - Per-aggregate order: a change that waited for another's row locks has a
 *   higher id and commits later. A page read above a floor could hold it while
 *   the earlier change, below the floor, is committed but not yet notified to
 *   this session (or, within a pass, committed after an earlier page was read).
 *   So after each page the relay takes in the notifications sent so far, and if
 *   one has a floor below the page's last id, it reads again from that floor.
 * - It publishes *unpublished rows* in capture order, never "everything after
 *   the last id": a transaction that took id 5 but commits after id 6 was
 *   published is still picked up. Rows are marked published only after XADD
 *   succeeded (on a Redis Cluster: and reached REDIS_CLUSTER_WAIT_REPLICAS
 *   replicas, so a master failover cannot lose it; RedisStreamsClient), so a
 *   crash in between republishes (consumers are idempotent) and Redis being
 *   down, or short of replicas, just leaves rows waiting.
 * - Stall: a leader that has had rows waiting and could not publish any of them
 *   for stallMs (Redis unreachable, hung or refusing writes from this process)
 *   while it reads them from Postgres releases its lock and sits out two poll
 *   periods before competing again, so a relay with a working Redis takes over.
 *   Its rows stay unpublished for whichever relay leads next.
 */
export class OutboxRelay {
  private readonly logger = new Logger('OutboxRelay');
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly stallMs: number;
  private readonly queryTimeoutMs: number;
  private connection: Client | undefined;
  /** A second session of the leader's: pages are marked published on it while the next page is read on the first. */
  private markConnection: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  /** Asked for while a pass ran: the next pass, from this id (the lowest floor asked for; 0n: from the start). */
  private pendingFrom: bigint | undefined;
  /**
   * When the last pass from the start began; 0 when the next pass must walk from the start (the last one failed
   * or stopped short, or this relay has just taken the lead).
   */
  private lastFullWalk = 0;
  private lastPrune = 0;
  /** Start of the first publish attempt that has not succeeded yet (undefined while publishing works or nothing waits). */
  private failingSince: number | undefined;
  /** After a step-down: no competing for the lock before this time. */
  private benchedUntil = 0;
  leader = false;
  published = 0;
  lastPublishedAt: Date | undefined;
  lastPublishError: PublishFailure | undefined;
  /** The first failure since publishing last worked: with the last one, what a step-down reports. */
  private firstPublishError: string | undefined;

  constructor(
    private readonly publisher: RedisStreamsClient,
    private readonly options: OutboxRelayOptions,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.batchSize = options.batchSize ?? 5000;
    this.stallMs = options.stallMs ?? 3000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
  }

  /** How long the leader's session may sit idle before Postgres ends it: well past any gap between its queries. */
  private get idleLimitMs(): number {
    return Math.max(10_000, 3 * this.pollMs, 2 * this.stallMs, 2 * this.publisher.answerWithinMs);
  }

  start(): void {
    this.running = true;
    void this.publisher.connect().catch(() => undefined);
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.busy;
    // Letting go on purpose is news (info); dropConnection warns when leadership is lost.
    if (this.leader) this.logger.log('stepped down as outbox relay: stopping');
    this.leader = false;
    await this.dropConnection();
    await this.publisher.close();
  }

  /**
   * Runs a pass now (or right after the running one) over the unpublished rows above `from`: a NOTIFY passes its
   * transaction's floor, the poll timer 0n (everything).
   */
  wake(from = 0n): void {
    if (!this.running) return;
    if (this.busy) {
      this.pendingFrom = this.pendingFrom === undefined ? from : lower(from, this.pendingFrom);
      return;
    }
    clearTimeout(this.timer);
    this.busy = this.pass(from)
      .catch((err: unknown) => {
        this.lastFullWalk = 0;
        this.logger.warn(`relay pass failed: ${(err as Error).message}`);
      })
      .finally(() => {
        this.busy = undefined;
        if (!this.running) return;
        const pending = this.pendingFrom;
        this.pendingFrom = undefined;
        if (pending !== undefined) this.wake(pending);
        else this.timer = setTimeout(() => this.wake(), this.pollMs);
      });
  }

  private async pass(from: bigint): Promise<void> {
    if (!this.leader && (Date.now() < this.benchedUntil || !(await this.tryLead()))) return;
    // From the start at least every poll period, also when commits keep the relay busy and the poll timer idle.
    const full = Date.now() - this.lastFullWalk >= this.pollMs;
    if (full) this.lastFullWalk = Date.now();
    try {
      await this.drain(full ? 0n : from);
      if (this.leader && Date.now() - this.lastPrune > PRUNE_EVERY_MS) await this.prune();
    } catch (err) {
      // A lost Postgres connection means a lost lock: step down and compete again.
      if (
        !this.connection ||
        (err as { code?: string }).code?.startsWith('57P') ||
        /terminat|closed|ECONN/i.test(String((err as Error).message)) ||
        (err as Error).message === QUERY_READ_TIMEOUT
      ) {
        await this.dropConnection();
      }
      throw err;
    }
  }

  private async tryLead(): Promise<boolean> {
    if (!this.connection) {
      const connection = new HangSafeClient({
        connectionString: this.options.databaseUrl,
        application_name: 'cachegate-relay',
        query_timeout: this.queryTimeoutMs,
        // Pages must walk outbox_unpublished_idx in id order. Right after a bulk statement the table has no
        // statistics for its new rows, and the planner then prefers a bitmap scan + sort, which reads every
        // remaining unpublished row for each page of 5,000 (quadratic: 100,000 rows took seconds).
        // idle_session_timeout: this session holds the leader's lock, and a relay queries on it at least every
        // poll period. One idle for longer is cut off from its relay (a connection that hangs), and Postgres
        // ends it, which frees the lock for another relay.
        options: `-c enable_sort=off -c idle_session_timeout=${this.idleLimitMs}`,
      });
      connection.on('error', () => void this.dropConnection());
      connection.on('notification', (n) => {
        // A floor (1763700700000); older capture functions also send their domain's name, which says nothing more.
        if (n.payload !== undefined && /^\d+$/.test(n.payload)) this.wake(BigInt(n.payload));
      });
      await connection.connect();
      this.connection = connection;
    }
    const [{ locked }] = (
      await this.connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        LEADER_LOCK,
      ])
    ).rows;
    if (locked) {
      await this.connection.query('LISTEN cachegate_cdc');
      this.leader = true;
      this.lastFullWalk = 0; // what committed before LISTEN was not notified to this session
      this.failingSince = undefined;
      this.logger.log('this process is now the active outbox relay');
      await this.warnWithoutResumeDrops();
    }
    return locked;
  }

  /**
   * One line at taking the lead when a non-superuser's migration could not create the event trigger that
   * drops a domain whose capture is switched on again (migration 1763700800000): /health/cdc shows it too.
   */
  private async warnWithoutResumeDrops(): Promise<void> {
    const [{ installed }] = (
      await this.connection!.query<{ installed: boolean }>(`SELECT ${CAPTURE_RESUMED_INSTALLED_SQL} AS installed`)
    ).rows;
    if (!installed) {
      this.logger.warn(
        `the event trigger ${CAPTURE_RESUMED_TRIGGER} is missing (it needs a superuser): after a captured table's ` +
          'capture triggers are disabled and enabled again, flush its domain by hand (docs/operations.md)',
      );
    }
  }

  /**
   * Publishes every unpublished row above id `from`, a page (batchSize rows) at a time, in capture order. Pages overlap:
   * the next page is read while this one's XADDs are in flight, and a page is marked published (after
   * its XADDs succeeded, on the second session) while the next ones are read and published. Paging by id
   * holds within the pass only.
   */
  private async drain(from: bigint): Promise<void> {
    const connection = this.connection!;
    let markFailure: unknown;
    // Marks take turns on their own session; a failed one stops the pass (its rows are published again later).
    let marks: Promise<unknown> = Promise.resolve();
    const mark = (rows: PendingRow[]) => {
      marks = marks.then(async () => {
        try {
          await (
            await this.marker()
          ).query('UPDATE cdc.outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
          this.published += rows.length;
          this.lastPublishedAt = new Date();
        } catch (err) {
          markFailure ??= err;
        }
      });
    };
    const page = (after: string) => {
      const rows = connection
        .query<PendingRow>(SELECT_UNPUBLISHED, [this.batchSize, after, MESSAGE_VERSION])
        .then((r) => r.rows);
      rows.catch(() => undefined); // a read-ahead may fail before it is awaited: its error surfaces when it is
      return rows;
    };
    /** Where the page being read starts. */
    let after = from;
    let next: Promise<PendingRow[]> | undefined = page(after.toString());
    let rereads = 0;
    try {
      while (this.running && next && !markFailure) {
        const rows: PendingRow[] = await next;
        if (rows.length === 0) {
          this.failingSince = undefined;
          return;
        }
        const last = rows[rows.length - 1].id;
        if (rereads < MAX_REREADS && (await this.committedBelow(BigInt(last)))) {
          // Read again from there, once the pages published so far are marked (so they are not read twice).
          // Never above this page's own start: its rows are dropped and must be read again too.
          rereads++;
          await marks;
          after = lower(this.takePending(), after);
          next = page(after.toString());
          continue;
        }
        after = BigInt(last);
        next = rows.length === this.batchSize ? page(last) : undefined;
        // Stepped down: the rows stay unpublished (a read-ahead page is dropped).
        if (!(await this.publish(rows))) {
          this.lastFullWalk = 0;
          return;
        }
        mark(rows);
      }
    } finally {
      await next?.catch(() => undefined); // the session is idle again before anything else uses it
      await marks;
    }
    // Rows whose mark failed were published and stay unpublished too: the next pass publishes them again.
    if (markFailure) throw markFailure;
  }

  /**
   * Whether a transaction that committed before this page was read wrote rows below the page's last id: then
   * the page may hold a later change of the same aggregate (which waited for that transaction's row locks), and
   * publishing it first would break per-aggregate order. Such a transaction's NOTIFY can still be on its way:
   * Postgres sends notifications to a session when it is idle, after the page's result. A round trip on the
   * same session flushes them (they are handled, in order, before its reply).
   */
  private async committedBelow(last: bigint): Promise<boolean> {
    if (this.pendingFrom === undefined || this.pendingFrom >= last) {
      await this.connection!.query('SELECT 1');
    }
    return this.pendingFrom !== undefined && this.pendingFrom < last;
  }

  /** The floor asked for since the pass began, handed to the pass itself (so no second pass repeats it). */
  private takePending(): bigint {
    const from = this.pendingFrom!;
    this.pendingFrom = undefined;
    return from;
  }

  /** The leader's second session, opened on first use (and dropped with the first). */
  private async marker(): Promise<Client> {
    if (!this.markConnection) {
      const marks = new HangSafeClient({
        connectionString: this.options.databaseUrl,
        application_name: 'cachegate-relay-marks',
        query_timeout: this.queryTimeoutMs,
        // Marks from this session are the relay's (migration 1763700900000): anyone else's drop their domains.
        options: '-c cachegate.relay_marks=on',
      });
      marks.on('error', () => {
        if (this.markConnection === marks) this.markConnection = undefined;
        void closeClient(marks);
      });
      await marks.connect();
      this.markConnection = marks;
    }
    return this.markConnection;
  }

  /**
   * XADDs the rows' envelopes (a pipeline per stream); true once Redis accepted all of them (and on a cluster
   * its replicas have them). A failure before the
   * stall limit throws (the next pass retries); an attempt that fails or has no answer by then makes the
   * relay step down (false).
   */
  private async publish(rows: PendingRow[]): Promise<boolean> {
    const started = Date.now();
    const failingSince = (this.failingSince ??= started);
    // An attempt that starts past the limit (earlier ones failed fast) still gets a poll period to succeed, and
    // at least the time the publisher may take to answer (a cluster's WAIT): its refusal says more than a timeout.
    const waitMs = Math.max(
      failingSince + this.stallMs - started,
      Math.min(this.pollMs, this.stallMs),
      this.publisher.answerWithinMs,
    );
    // All XADDs go out on one connection in capture order before we wait.
    const sends = this.publisher.emitBatch(rows.flatMap((row) => this.envelopes(row)));
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), waitMs);
    });
    try {
      if ((await Promise.race([sends, stalled])) !== 'stalled') {
        this.failingSince = undefined;
        this.lastPublishError = undefined;
        this.firstPublishError = undefined;
        return true;
      }
      sends.catch(() => undefined); // abandoned: its late outcome changes nothing
      this.recordFailure(new Error(`no answer from Redis within ${Date.now() - started} ms`));
    } catch (err) {
      this.recordFailure(err as Error);
      if (Date.now() - failingSince < this.stallMs) throw err;
    } finally {
      clearTimeout(timer);
    }
    await this.stepDown(rows.length);
    return false;
  }

  private recordFailure(err: Error): void {
    this.firstPublishError ??= err.message;
    this.lastPublishError = { message: err.message, at: new Date(), oom: /^OOM\b/.test(err.message) };
  }

  /**
   * Releases the lock (Postgres is reachable: the rows were just read from it) and sits out two poll periods,
   * so that every other relay gets at least one attempt at the lock first. Its Redis client is renewed: when
   * this relay leads again it starts from new connections (and on a cluster a new slot map), not from
   * whatever the old ones were stuck on.
   */
  private async stepDown(waiting: number): Promise<void> {
    const stalledMs = Date.now() - this.failingSince!;
    const benchMs = 2 * this.pollMs;
    const first = this.firstPublishError;
    const last = this.lastPublishError?.message;
    this.leader = false;
    this.failingSince = undefined;
    this.firstPublishError = undefined;
    this.benchedUntil = Date.now() + benchMs;
    this.publisher.renew();
    try {
      await this.connection!.query('UNLISTEN cachegate_cdc');
      await this.connection!.query('SELECT pg_advisory_unlock(hashtext($1))', [LEADER_LOCK]);
    } catch {
      await this.dropConnection(); // closing the session releases the lock as well
    }
    this.logger.warn(
      `stepped down as outbox relay: could not publish ${waiting}${waiting === this.batchSize ? '+' : ''} waiting ` +
        `outbox rows for ${stalledMs} ms (CDC_RELAY_STALL_MS=${this.stallMs}) while Postgres is reachable; ` +
        `${first !== undefined && first !== last ? `first error: ${first}; ` : ''}last error: ${last}; ` +
        `the rows stay unpublished for the next leader; ` +
        `competing again in ${benchMs} ms`,
    );
  }

  /** One envelope per stream version the row goes to (its own, plus dual-publish versions). */
  private envelopes(row: PendingRow): OutgoingEvent[] {
    const dual = this.options.dualPublish[row.domain];
    // The common case, one stream, without a Set and a spread per row (a bulk page is 5,000 rows).
    if (dual === undefined) return [{ pattern: streamPattern(row.domain, row.schema_version), event: row.event }];
    const versions = new Set([row.schema_version, ...dual]);
    return [...versions].map((schemaVersion) => ({
      pattern: streamPattern(row.domain, schemaVersion),
      event:
        schemaVersion === row.schema_version
          ? row.event
          : JSON.stringify({ ...(JSON.parse(row.event) as object), schemaVersion }),
    }));
  }

  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    const { rowCount } = await this.connection!.query(
      `DELETE FROM cdc.outbox WHERE published_at < now() - make_interval(secs => $1)`,
      [this.options.retentionMs / 1000],
    );
    if (rowCount) this.logger.log(`pruned ${rowCount} published outbox rows`);
  }

  private async dropConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const marks = this.markConnection;
    this.markConnection = undefined;
    if (this.leader) this.logger.warn('stepped down as outbox relay');
    this.leader = false;
    this.failingSince = undefined;
    await Promise.all([marks, connection].map((c) => c && closeClient(c)));
  }
}

/** `30m`, `24h`, `7d` → milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
