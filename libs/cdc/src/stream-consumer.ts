import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { execReplicated, reconnectIfHung, ReplicaWait, resultsOrThrow } from '@app/redis';
import { CdcEvent, InvalidEnvelopeError, parseEnvelope } from './cdc-event';
import { CdcStats } from './cdc-stats';
import { consumerGroup } from './consumer-group';
import { admit, Envelope } from './delivery-policy';

type StreamEntry = [id: string, fields: string[] | null];
type StreamBatch = [stream: string, entries: StreamEntry[]][];

/** An entry admitted for its handler (delivery-policy.ts `admit`). */
export interface Admitted {
  id: string;
  event: CdcEvent;
  deliveries: number;
}

export interface StreamConsumerOptions {
  group: string;
  consumer: string;
  /** Entries read per XREADGROUP, handled as one batch. */
  batchSize: number;
  blockMs: number;
  /** Pending entries idle longer than this are reclaimed from their (presumably dead) consumer. */
  claimIdleMs: number;
  /** An entry delivered more often than this goes to the dead-letter stream. */
  maxDeliveries: number;
  /** On a cluster: the replicas a dead letter must reach before its entry is acknowledged. */
  replicas: ReplicaWait;
  /** Events of the stream were lost unapplied (RedisStreamsServerOptions.eventsLost). */
  eventsLost?: (stream: string) => Promise<void>;
}

/** Lua: is stream id `a` before `b`? Ids are `<ms>-<seq>`, each below 2^53 in practice. */
const ID_BEFORE = `local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local function field(list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
end`;

/**
 * KEYS: the stream. ARGV: the group.
 * Whether MAXLEN trimmed entries the group never read: trimming removes the oldest entries, so that is
 * when the group's last-delivered-id is before the first entry left, and more entries were removed
 * (entries-added - length) than the group has read (entries-read; unknown for a group created or moved
 * by id alone, and then any removal counts). Answers {first entry id, entries removed}, else false.
 */
const TRIMMED_UNREAD_LUA = `${ID_BEFORE}
local stream = redis.call('XINFO', 'STREAM', KEYS[1])
local removed = tonumber(field(stream, 'entries-added')) - tonumber(field(stream, 'length'))
local first = field(stream, 'recorded-first-entry-id')
if removed == 0 or not first or first == '0-0' then return false end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  if field(group, 'name') == ARGV[1] then
    if not before(field(group, 'last-delivered-id'), first) then return false end
    local read = field(group, 'entries-read')
    if read and tonumber(read) >= removed then return false end
    return { first, tostring(removed) }
  end
end
return false`;

/**
 * KEYS: the stream. ARGV: the group, the first entry id left, entries removed.
 * Moves the group just before that entry (never back), counting the removed entries as read, so the gap
 * is found once. Answers 1 when it moved the group, 0 when the group was there already (another loop of
 * the stream moved it) or past it.
 */
const PAST_GAP_LUA = `${ID_BEFORE}
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  if field(group, 'name') == ARGV[1] then
    local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
    local last = tonumber(seq) > 0 and (ms .. '-' .. (tonumber(seq) - 1)) or ((tonumber(ms) - 1) .. '-18446744073709551615')
    -- Already there (another loop of this stream moved it) or past it: nothing to do, 0.
    if not before(field(group, 'last-delivered-id'), last) then return 0 end
    redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last, 'ENTRIESREAD', ARGV[3])
    return 1
  end
end
return 0`;

/** Runs the stream's handler on admitted entries; answers those that failed, each with its error. */
export type ApplyEntries = (consumer: StreamConsumer, entries: Admitted[]) => Promise<Map<Admitted, Error>>;

const BACKOFF_MAX_MS = 5000;
const DLQ_MAXLEN = 10_000;
/** Ids per XACK command. */
const ACK_CHUNK = 5000;

function field(fields: string[] | null, name: string): string | undefined {
  if (!fields) return undefined;
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function readEnvelope(raw: string | undefined): Envelope<CdcEvent> {
  try {
    return { event: parseEnvelope(raw) };
  } catch (err) {
    return { invalid: (err as InvalidEnvelopeError).message };
  }
}

/** Lazy clients being connected: the consumers share the commands client, and connect it once. */
const connecting = new WeakMap<Redis, Promise<void>>();

async function connected(client: Redis): Promise<void> {
  const pending = connecting.get(client);
  if (pending) return pending;
  if (client.status === 'ready') return;
  if (client.status !== 'wait' && client.status !== 'end') throw new Error(`redis ${client.status}`);
  const attempt = client.connect().finally(() => connecting.delete(client));
  connecting.set(client, attempt);
  return attempt;
}

/**
 * The consumption of one stream (RedisStreamsServer runs one per stream): its loop, reads, reclaims,
 * acknowledgements and dead letters. Each has its own reader connection, because a blocking
 * XREADGROUP holds the connection it is sent on (on a cluster, its connection to the stream's master)
 * until it answers, and because one XREADGROUP over several streams is refused on a cluster (CROSSSLOT:
 * each stream is its own key). Every command names this stream's key alone, or its `:dlq`; the two are
 * written in order, never in one transaction (two slots on a cluster).
 */
export class StreamConsumer {
  private readonly logger = new Logger('RedisStreamsServer');
  /** Handler errors of entries that failed here, for their dead letters (bounded: oldest dropped). */
  private readonly lastErrors = new Map<string, string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private isConsuming = false;

  constructor(
    readonly stream: string,
    /** Blocking reads only; disconnecting it interrupts a BLOCK on stop. */
    private readonly reader: Redis,
    /** Acks, claims, dead letters: shared by the server's consumers. */
    private readonly commands: Redis,
    private readonly options: StreamConsumerOptions,
    private readonly stats: CdcStats,
    private readonly apply: ApplyEntries,
    /** Told whenever `consuming` changes. */
    private readonly consumingChanged: () => void,
  ) {}

  /** Connected, group in place, own backlog handled, and not retrying a handler in place. */
  get consuming(): boolean {
    return this.isConsuming;
  }

  set consuming(value: boolean) {
    if (value === this.isConsuming) return;
    this.isConsuming = value;
    this.consumingChanged();
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.reader.disconnect(); // interrupts a blocking read; a batch being handled is finished first
    await this.loop;
    this.consuming = false;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let drainPending = true;
    let lastClaim = 0;
    while (this.running) {
      try {
        await connected(this.reader);
        await connected(this.commands);
        if (drainPending) {
          this.readAhead = undefined; // its entries are among our pending ones now
          await this.ensureGroup();
          drainPending = !(await this.drainPending());
        }
        if (!drainPending && Date.now() - lastClaim >= this.options.claimIdleMs / 2) {
          lastClaim = Date.now();
          if (await this.reclaimIdle()) drainPending = true;
        }
        if (!drainPending) await this.recoverTrimmed();
        if (!drainPending) {
          // Connected, group in place, own backlog handled: blocked in XREADGROUP is consuming too. (Set only
          // after the read returned, /health said "not consuming" for up to blockMs after every (re)start.)
          this.consuming = true;
          drainPending = !(await this.readNew());
        }
        this.consuming = true;
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        this.consuming = false;
        drainPending = true;
        reconnectIfHung(this.commands, err);
        const message = (err as Error).message ?? String(err);
        if (failures === 0) this.logger.warn(`consumption of ${this.stream} interrupted: ${message}; retrying`);
        failures++;
      }
      if (failures > 0 || drainPending) await sleep(Math.min(100 * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS));
    }
  }

  /**
   * Group at `0` with MKSTREAM, so nothing published before it existed is missed; recreated after NOGROUP.
   *
   * A group that was there once (`<stream>:group-seen`, set whenever it is in place) and is gone now went
   * with its stream (an operator's DEL) or was destroyed: entries it had not applied may be gone, and a
   * stream that starts again from nothing shows no gap in its counters (recoverTrimmed). So the domain is
   * dropped (eventsLost) before the group is made again; a crash in between finds the same state and drops
   * it again. A Redis emptied whole (FLUSHALL, a restart without persistence) takes the marker too: the
   * cache went with it, and the database identity check, finding no identity recorded, flushes every L1.
   */
  private async ensureGroup(): Promise<void> {
    const { group } = this.options;
    const seen = `${this.stream}:group-seen`;
    if (!(await consumerGroup(this.commands, this.stream, group)) && (await this.commands.exists(seen)) === 1) {
      await this.lost(
        `group ${group} is gone (its stream deleted, or the group destroyed) and may not have applied it all`,
      );
    }
    try {
      await this.commands.xgroup('CREATE', this.stream, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    await this.commands.set(seen, '1');
  }

  /**
   * docs/contract.md §6.3: events trimmed by MAXLEN before this group read them are lost, and a view they
   * should have dropped would stay cached for good. Checked before every read of new entries: when it
   * happened, the stream's domain is dropped whole (eventsLost) and only then is the group moved past the
   * gap, so a crash in between finds it again.
   */
  private async recoverTrimmed(): Promise<void> {
    const { group } = this.options;
    const gap = (await this.commands.eval(TRIMMED_UNREAD_LUA, 1, this.stream, group)) as [string, string] | null;
    if (!gap) return;
    const [first, removed] = gap;
    // Every loop of the stream may find the same gap: each drops the domain (twice is harmless), and the one
    // whose move past the gap takes effect counts and reports it.
    await this.options.eventsLost?.(this.stream);
    if ((await this.commands.eval(PAST_GAP_LUA, 1, this.stream, group, first, removed)) === 1) {
      this.reportLost(`entries before ${first} were trimmed (MAXLEN) before group ${group} read them`);
    }
  }

  /** Events were lost unapplied: every view of the stream's domain goes (eventsLost) before anything else. */
  private async lost(what: string): Promise<void> {
    this.reportLost(what);
    await this.options.eventsLost?.(this.stream);
  }

  private reportLost(what: string): void {
    this.stats.trimmed++;
    this.logger.warn(
      `${this.stream}: ${what}; ${this.options.eventsLost ? 'dropping every view of its domain' : 'their views may be stale'}`,
    );
  }

  /** Re-reads our own pending entries a batch at a time, oldest first. True when none are left. */
  private async drainPending(): Promise<boolean> {
    while (this.running) {
      const entries = await this.read('0');
      if (entries.length === 0) return true;
      const deliveries = await this.deliveries(entries);
      this.stats.redelivered += deliveries.filter((d) => d > 1).length;
      // Failed entries stay pending: they are retried (after a pause) before anything newer is read.
      if (!(await this.handleBatch(entries, deliveries))) return false;
    }
    return false;
  }

  /**
   * The next new entries, read while the batch before them is applied: a full batch says more are waiting,
   * and the read (on the reader's own connection) overlaps the invalidation's round trips. Dropped unread on
   * any other path: its entries are then this consumer's pending ones, which drainPending re-reads in order.
   */
  private readAhead: Promise<StreamEntry[]> | undefined;

  /** Reads and handles a batch of new entries; false when any failed (and was left pending). */
  private async readNew(): Promise<boolean> {
    const ahead = this.readAhead;
    this.readAhead = undefined;
    const entries = await (ahead ?? this.read('>', this.options.blockMs));
    if (entries.length === 0) return true;
    if (entries.length === this.options.batchSize) {
      const next = this.read('>');
      next.catch(() => undefined); // dropped or awaited later: a failure surfaces when it is awaited
      this.readAhead = next;
    }
    const ok = await this.handleBatch(
      entries,
      entries.map(() => 1),
    );
    if (!ok) this.readAhead = undefined;
    return ok;
  }

  /** XREADGROUP of up to batchSize entries after `id` ('>' new ones, '0' our pending ones), blocking for `blockMs`. */
  private async read(id: string, blockMs?: number): Promise<StreamEntry[]> {
    const { group, consumer, batchSize } = this.options;
    const stream = this.stream;
    try {
      const batch = (await (blockMs === undefined
        ? this.reader.xreadgroup('GROUP', group, consumer, 'COUNT', batchSize, 'STREAMS', stream, id)
        : this.reader.xreadgroup(
            'GROUP',
            group,
            consumer,
            'COUNT',
            batchSize,
            'BLOCK',
            blockMs,
            'STREAMS',
            stream,
            id,
          ))) as StreamBatch | null;
      return batch?.[0]?.[1] ?? [];
    } catch (err) {
      // Entries the lost answer delivered are our pending ones: read again after the reconnect.
      if (reconnectIfHung(this.reader, err)) throw new Error(`no answer to XREADGROUP: reconnecting`, { cause: err });
      throw err;
    }
  }

  /** Takes over entries idle past claimIdleMs from any consumer of the group. True when any were taken. */
  private async reclaimIdle(): Promise<boolean> {
    let claimed = false;
    let cursor = '0-0';
    do {
      // JUSTID: the delivery counter grows when we re-read the entry, once per attempt.
      const [next, ids] = (await this.commands.xautoclaim(
        this.stream,
        this.options.group,
        this.options.consumer,
        this.options.claimIdleMs,
        cursor,
        'COUNT',
        100,
        'JUSTID',
      )) as [string, string[], string[]?];
      if (ids.length > 0) claimed = true;
      cursor = next;
    } while (cursor !== '0-0' && this.running);
    return claimed;
  }

  /** Delivery counts of a batch of our own pending entries (this delivery included): one XPENDING over its id range. */
  private async deliveries(entries: StreamEntry[]): Promise<number[]> {
    const info = (await this.commands.xpending(
      this.stream,
      this.options.group,
      entries[0][0],
      entries[entries.length - 1][0],
      entries.length,
      this.options.consumer,
    )) as [string, string, number, number][];
    const counts = new Map(info.map(([id, , , deliveries]) => [id, Number(deliveries)]));
    return entries.map(([id]) => counts.get(id) ?? 1);
  }

  /**
   * Handles a batch of entries: dead-letters what cannot be applied, applies the rest as one
   * invalidation (apply), then acknowledges everything that is done with, in one XACK per ACK_CHUNK
   * ids. True when nothing is left pending; false when entries failed (they stay pending).
   */
  private async handleBatch(entries: StreamEntry[], deliveries: number[]): Promise<boolean> {
    const done: string[] = [];
    const admitted: Admitted[] = [];
    for (const [i, [id, fields]] of entries.entries()) {
      const raw = field(fields, 'event');
      const admission = admit({
        envelope: fields === null ? null : readEnvelope(raw),
        deliveries: deliveries[i],
        maxDeliveries: this.options.maxDeliveries,
        lastError: this.lastErrors.get(id),
      });
      if (admission.action === 'ack') {
        done.push(id);
      } else if (admission.action === 'dead-letter') {
        this.lastErrors.delete(id);
        await this.deadLetter(id, raw, admission.reason, deliveries[i]);
      } else {
        admitted.push({ id, event: admission.event, deliveries: deliveries[i] });
      }
    }
    // A pending entry MAXLEN trimmed is read back without fields: its event is lost (acked below, once handled).
    const trimmed = entries.filter(([, fields]) => fields === null).length;
    if (trimmed > 0) await this.lost(`${trimmed} pending entries were trimmed (MAXLEN) before they were applied`);
    const failed = admitted.length === 0 ? new Map<Admitted, Error>() : await this.apply(this, admitted);
    const appliedAt = Date.now();
    const applied: Admitted[] = [];
    for (const entry of admitted) {
      const error = failed.get(entry);
      if (error) {
        this.logger.warn(`entry ${entry.id} of ${this.stream} failed (delivery ${entry.deliveries}): ${error.message}`);
        this.rememberError(entry.id, error.message);
      } else {
        this.lastErrors.delete(entry.id);
        applied.push(entry);
        done.push(entry.id);
      }
    }
    // Only now: an entry is acknowledged after its invalidation finished, never before.
    await this.ack(done);
    this.stats.processed += applied.length;
    for (const { event } of applied) this.stats.recordLag(Math.max(0, appliedAt - Date.parse(event.occurredAt)));
    return failed.size === 0;
  }

  /**
   * XACK of many ids: ACK_CHUNK ids per command, all sent at once (one round trip). No WAIT on a cluster:
   * an acknowledgement a failover loses leaves its entry pending again, and it is read again (our own
   * pending entries after the reconnect, or XAUTOCLAIM): applied twice, which only deletes keys again.
   * At-least-once allows that; losing the entry itself it would not, and an ack cannot lose one.
   */
  private async ack(ids: string[]): Promise<void> {
    const acks: Promise<number>[] = [];
    for (let i = 0; i < ids.length; i += ACK_CHUNK) {
      acks.push(this.commands.xack(this.stream, this.options.group, ...ids.slice(i, i + ACK_CHUNK)));
    }
    await Promise.all(acks);
  }

  /** Kept so a dead letter can say why, when the failures happened in this process (bounded: oldest dropped). */
  private rememberError(id: string, message: string): void {
    this.lastErrors.delete(id);
    this.lastErrors.set(id, message);
    if (this.lastErrors.size > 1000) this.lastErrors.delete(this.lastErrors.keys().next().value as string);
  }

  /**
   * Copies the entry to `<stream>:dlq`, then acknowledges it: two keys (on a cluster two slots, maybe two
   * masters), so two commands in this order, never a transaction. A crash in between leaves the entry
   * pending, and it is dead-lettered again: a duplicate dead letter, never a lost entry. On a cluster the
   * dead letter is also on `replicas` replicas before the ack (WAIT): else a failover of the `:dlq`'s master
   * could lose it while the ack, on another master, survives.
   */
  private async deadLetter(id: string, raw: string | undefined, error: string, deliveries: number): Promise<void> {
    const letter = [
      'event',
      raw ?? '',
      'error',
      error,
      'stream',
      this.stream,
      'entryId',
      id,
      'deliveries',
      String(deliveries),
      'failedAt',
      new Date().toISOString(),
    ];
    resultsOrThrow(
      await execReplicated(this.commands, this.options.replicas, (pipeline) =>
        pipeline.xadd(`${this.stream}:dlq`, 'MAXLEN', '~', DLQ_MAXLEN, '*', ...letter),
      ),
    );
    await this.commands.xack(this.stream, this.options.group, id);
    this.stats.deadLettered++;
    this.logger.warn(`entry ${id} of ${this.stream} dead-lettered: ${error}`);
  }
}
