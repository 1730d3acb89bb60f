import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { CACHE_REDIS, CacheSourceIdentity } from '@app/cache';
import { CAPTURE_RESUMED_TRIGGER } from '@app/cdc';
import type { EnvironmentVariables } from '@app/config';

/** How often a running instance compares the database's identity with the cache's (one SELECT, one GET). */
export const DATABASE_IDENTITY_CHECK_MS = 2000;

/**
 * The identity of this incarnation of the database: the row of
 * cdc.database_identity (random at creation; operators change it after a
 * restore that keeps everything below, docs/operations.md), plus what no
 * restore can bring back:
 *
 * - the database's OID: new whenever the database is created again, whatever it is filled with;
 * - the cluster's system identifier: new for every initdb, so a database moved to another server whose OID
 *   happens to match is still told apart;
 * - the timeline: a promoted replica and every archive recovery (point-in-time or to the end of the
 *   archive) start a new one, and may lack commits whose events were applied (an asynchronous replica
 *   promoted after its primary died). Read from the current WAL file's name, which changes at promotion
 *   (the checkpoint record's timeline only at the next checkpoint); `-` on a server in recovery;
 * - the OIDs of what a restore in place (`pg_restore --clean`) creates anew: the identity table, and the
 *   event trigger of migration 1763700800000, which pg_dump restores after everything else, so the
 *   identity changes once more when the restore's data is all in.
 */
const TIMELINE_SQL = `CASE WHEN pg_is_in_recovery() THEN '-'
         ELSE ltrim(substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), '0') END`;
const RESTORED_SQL = `coalesce(to_regclass('cdc.database_identity')::oid::text, '-') || '.' ||
         coalesce((SELECT oid::text FROM pg_event_trigger WHERE evtname = '${CAPTURE_RESUMED_TRIGGER}'), '-')`;
const IDENTITY_SQL = `
  SELECT (SELECT id::text FROM cdc.database_identity) AS id,
         (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database,
         (SELECT system_identifier::text FROM pg_control_system()) AS system,
         ${TIMELINE_SQL} AS timeline,
         ${RESTORED_SQL} AS restored`;
/** Without pg_control_system() and the WAL functions, where a managed server does not let us call them. */
const IDENTITY_SQL_WITHOUT_SYSTEM = `
  SELECT (SELECT id::text FROM cdc.database_identity) AS id,
         (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database,
         '-' AS system,
         '-' AS timeline,
         ${RESTORED_SQL} AS restored`;

/**
 * Keeps the cache from serving a database that no longer exists (docs/contract.md §5.9):
 * a database dropped and recreated, or restored, while Redis kept the entries
 * read from its previous incarnation. At boot (before the app serves; the HTTP
 * listener opens after onApplicationBootstrap), every DATABASE_IDENTITY_CHECK_MS,
 * and whenever the cache's Redis connection is ready again, it reads the
 * identity and hands it to CacheSourceIdentity, which drops every entry of
 * this prefix and every L1 when it differs from the one the cache was filled
 * from.
 *
 * Here, not in libs/cache: the identity is a Postgres query on a table of the
 * BFF's own migration; the cache lib only compares strings and drops entries.
 * Registered in the BFF (app.module.ts) and in cache-sync (cache-sync.module.ts).
 */
@Injectable()
export class DatabaseIdentityCheck implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DatabaseIdentity');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private withSystemIdentifier = true;
  /** The failure being reported, so a database or Redis outage logs one line, not one per check. */
  private failing: string | undefined;
  private readonly onReady = (): void => void this.check();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly identity: CacheSourceIdentity,
    @Inject(CACHE_REDIS) private readonly redis: Redis,
    private readonly config: ConfigService<EnvironmentVariables, true>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.get('CACHE_ENABLED')) return; // the cache's Redis is never used
    await this.check();
    this.redis.on('ready', this.onReady);
    this.timer = setInterval(() => void this.check(), DATABASE_IDENTITY_CHECK_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.redis.off('ready', this.onReady);
    await this.running;
  }

  /** The identity as the database answers it now: `<uuid>/<database oid>/<system identifier>/<timeline>/<restored>`. */
  async read(): Promise<string> {
    let rows: { id: string | null; database: string; system: string; timeline: string; restored: string }[];
    try {
      rows = await this.dataSource.query(this.withSystemIdentifier ? IDENTITY_SQL : IDENTITY_SQL_WITHOUT_SYSTEM);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // insufficient_privilege, undefined_function, feature_not_supported: go on without them.
      if (!this.withSystemIdentifier || !['42501', '42883', '0A000'].includes(code ?? '')) throw err;
      this.logger.warn(
        `pg_control_system() or the WAL functions are not available (${(err as Error).message}): ` +
          'identity without the system identifier and the timeline',
      );
      this.withSystemIdentifier = false;
      return this.read();
    }
    const [{ id, database, system, timeline, restored }] = rows;
    return `${id ?? 'none'}/${database}/${system}/${timeline}/${restored}`;
  }

  /** Runs a check now, or once more right after the running one; resolves when none is left to run. */
  check(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again && !this.stopped);
    };
    this.running = run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    try {
      await this.identity.reconcile(await this.read());
      if (this.failing) this.logger.log('database identity check works again');
      this.failing = undefined;
    } catch (err) {
      // Redis down: reads bypass the cache meanwhile, and 'ready' checks again. Postgres down: the next tick.
      const message = (err as Error).message;
      if (!this.failing) this.logger.warn(`database identity not checked: ${message}; retrying`);
      this.failing = message;
    }
  }
}
