import type { Redis } from 'ioredis';
import { execReplicated, ReplicaWait } from '@app/redis';
import { parseEnvelope } from './cdc-event';

/** One entry of `<stream>:dlq`, as the consumer (redis-streams.server.ts) wrote it. */
export interface DeadLetter {
  /** Its id in the dead-letter stream: what `redrive` takes. */
  id: string;
  /** The id it had in its stream. */
  entryId: string;
  /** Why it was set aside. */
  error: string;
  deliveries: number;
  failedAt: string;
  /** The stream entry's `event` field as it was ('' when the entry had none): what a redrive re-publishes. */
  event: string;
}

export interface DeadLetterPage {
  stream: string;
  /** Dead letters the stream holds (all of them, not only this page). */
  total: number;
  deadLetters: DeadLetter[];
  /** Pass as `after` for the next page; null when this page is the last. */
  next: string | null;
}

export interface RedriveReport {
  stream: string;
  /** Re-published to the stream and removed from the dead-letter stream. */
  redriven: number;
  /** Left in the dead-letter stream: not a valid envelope, so re-publishing could only dead-letter them again. */
  skipped: { id: string; error: string }[];
  /** Asked-for ids the dead-letter stream does not hold (already redriven, trimmed, or never there). */
  missing: string[];
}

/** A stream this deployment does not consume: nothing of it may be read or re-published. */
export class UnknownStreamError extends Error {
  override readonly name = 'UnknownStreamError';
}

export interface DeadLettersOptions {
  /** CACHE_KEY_PREFIX. */
  prefix: string;
  /** The streams this deployment consumes (`cdc.catalog.v1`, …): the only ones served. */
  streams: readonly string[];
  /** CDC_STREAM_MAXLEN: a re-published entry caps its stream as the relay does. */
  maxLen: number;
  /** On a cluster: the replicas a re-published entry must reach before its dead letter is removed (cdcRedis). */
  replicas: ReplicaWait;
}

export const DEAD_LETTER_PAGE_MAX = 1000;
const REDRIVE_BATCH = 100;
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

type RawEntry = [id: string, fields: string[]];

function fieldsOf(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length - 1; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

function toDeadLetter([id, flat]: RawEntry): DeadLetter {
  const f = fieldsOf(flat);
  return {
    id,
    entryId: f.entryId ?? '',
    error: f.error ?? '',
    deliveries: Number(f.deliveries ?? 0),
    failedAt: f.failedAt ?? '',
    event: f.event ?? '',
  };
}

/**
 * Looking at and redriving the dead letters of `<prefix><stream>:dlq` (docs/contract.md §4,
 * §6.3). A redrive re-publishes a dead letter's `event` to its stream (XADD,
 * a new entry the consumer group reads like any other), then removes it from
 * the dead-letter stream (XDEL): a crash in between leaves it in both, so at
 * worst it is applied twice, never lost; applying an invalidation twice, or
 * after later events of its aggregate, only deletes keys again. The stream and
 * its `:dlq` are two keys (two slots on a cluster): two steps in this order,
 * and on a cluster the XADDs are on the replicas (WAIT) before the XDEL, so
 * a failover of the stream's master cannot lose what the XDEL removed.
 */
export class DeadLetters {
  constructor(
    private readonly redis: () => Promise<Redis>,
    private readonly options: DeadLettersOptions,
  ) {}

  /** The streams whose dead letters are served. */
  get streams(): readonly string[] {
    return this.options.streams;
  }

  /** Up to `limit` dead letters, oldest first, after the id `after` when given. */
  async list(stream: string, { limit = 100, after }: { limit?: number; after?: string } = {}): Promise<DeadLetterPage> {
    const dlq = this.deadLetterStream(stream);
    if (!Number.isInteger(limit) || limit < 1 || limit > DEAD_LETTER_PAGE_MAX)
      throw new RangeError(`limit must be 1..${DEAD_LETTER_PAGE_MAX}`);
    if (after !== undefined && !ENTRY_ID.test(after)) throw new RangeError('after must be a stream entry id');
    const redis = await this.redis();
    const [total, entries] = await Promise.all([
      redis.xlen(dlq),
      redis.xrange(dlq, after === undefined ? '-' : `(${after}`, '+', 'COUNT', limit) as Promise<RawEntry[]>,
    ]);
    const deadLetters = entries.map(toDeadLetter);
    return {
      stream,
      total,
      deadLetters,
      next: deadLetters.length === limit ? deadLetters[deadLetters.length - 1].id : null,
    };
  }

  /**
   * Re-publishes dead letters to their stream and removes them from the
   * dead-letter stream: the given ids, or every one there when the redrive
   * starts. Dead letters that are not a valid envelope stay (`skipped`).
   * `progress` is told after each batch.
   */
  async redrive(
    stream: string,
    ids?: readonly string[],
    progress: (report: RedriveReport) => void = () => undefined,
  ): Promise<RedriveReport> {
    const dlq = this.deadLetterStream(stream);
    const bad = ids?.find((id) => !ENTRY_ID.test(id));
    if (bad !== undefined) throw new RangeError(`not a stream entry id: ${JSON.stringify(bad)}`);
    const redis = await this.redis();
    const report: RedriveReport = { stream, redriven: 0, skipped: [], missing: [] };
    if (ids !== undefined) {
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += REDRIVE_BATCH) {
        const batch = unique.slice(i, i + REDRIVE_BATCH);
        const pipeline = redis.pipeline();
        for (const id of batch) pipeline.xrange(dlq, id, id);
        const found: RawEntry[] = [];
        for (const [index, [err, entries]] of ((await pipeline.exec()) ?? []).entries()) {
          if (err) throw err;
          const [entry] = entries as RawEntry[];
          if (entry) found.push(entry);
          else report.missing.push(batch[index]);
        }
        await this.move(redis, stream, found, report);
        progress(report);
      }
      return report;
    }
    // Everything there now; what is dead-lettered meanwhile waits for the next redrive.
    const [last] = (await redis.xrevrange(dlq, '+', '-', 'COUNT', 1)) as RawEntry[];
    if (!last) return report;
    let start = '-';
    for (;;) {
      const page = (await redis.xrange(dlq, start, last[0], 'COUNT', REDRIVE_BATCH)) as RawEntry[];
      if (page.length === 0) break;
      await this.move(redis, stream, page, report);
      progress(report);
      const end = page[page.length - 1][0];
      if (end === last[0]) break;
      start = `(${end}`; // skipped ones stay in the stream: start after the page, not at its beginning
    }
    return report;
  }

  /** `<prefix><stream>:dlq`, for a stream this deployment consumes. */
  private deadLetterStream(stream: string): string {
    if (!this.options.streams.includes(stream)) {
      throw new UnknownStreamError(
        `stream must be one this deployment consumes (${this.options.streams.join(', ')}), not ${JSON.stringify(stream)}`,
      );
    }
    return `${this.options.prefix}${stream}:dlq`;
  }

  /** XADD each valid one to the stream (in their order), then XDEL those that were added. */
  private async move(redis: Redis, stream: string, entries: RawEntry[], report: RedriveReport): Promise<void> {
    const letters = entries.map(toDeadLetter);
    const valid: DeadLetter[] = [];
    for (const letter of letters) {
      try {
        parseEnvelope(letter.event === '' ? undefined : letter.event);
        valid.push(letter);
      } catch (err) {
        report.skipped.push({ id: letter.id, error: (err as Error).message });
      }
    }
    if (valid.length === 0) return;
    const name = this.options.prefix + stream;
    const results = await execReplicated(redis, this.options.replicas, (adds) => {
      for (const letter of valid) {
        adds.xadd(name, 'MAXLEN', '~', this.options.maxLen, '*', 'event', letter.event, 'redrivenFrom', letter.id);
      }
    });
    const added = valid.filter((_, i) => results[i] && !results[i][0]).map((l) => l.id);
    // Only what is safely in the stream leaves the dead-letter stream.
    if (added.length > 0) await redis.xdel(`${name}:dlq`, ...added);
    report.redriven += added.length;
    const failed = results.find(([err]) => err);
    if (failed || added.length < valid.length) throw failed?.[0] ?? new Error('re-publishing dead letters failed');
  }
}
