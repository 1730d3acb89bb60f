import { ConflictException, Injectable, Logger, UnprocessableEntityException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { durationMs } from '@app/cdc';
import type { EnvironmentVariables } from '@app/config';
import { decide, IdempotencyContext, StoredKey, sweepEveryMs } from './idempotency-key';

interface StoredRow extends StoredKey {
  responseBody: unknown;
}

/** Expired rows deleted by one sweep; the next sweep takes the rest. */
const SWEEP_BATCH = 1000;

/**
 * Runs the creating writes (docs/contract.md §3 "Idempotent creation"). A service calls
 * `transaction(idempotency, work)` instead of `dataSource.transaction(work)`:
 * without a key it is exactly that; with one, the transaction first claims the
 * key, then runs `work` and stores its answer with the key before it commits,
 * so the key's row exists exactly when the write committed:
 *
 * - the claim takes a transaction-scoped advisory lock on (route, key) without
 *   waiting: a repeat while the first request runs (holding the lock until its
 *   commit or rollback) is a 409 at once;
 * - holding the lock, it reads the stored row: the same request → the stored
 *   answer, nothing written; another request → 422; an expired row → deleted,
 *   and the request runs as new.
 *
 * A write that fails rolls its key back with it: the key stays free, and a
 * retry runs the write again. `work` builds its answer from its own transaction
 * (no read after the commit), so a committed write is never answered with an
 * error by a failing re-read.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly ttlMs: number;
  private readonly sweepEveryMs: number;
  private lastSweep = 0;
  private sweeping = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService<EnvironmentVariables, true>,
  ) {
    this.ttlMs = durationMs(config.get('IDEMPOTENCY_TTL'));
    this.sweepEveryMs = sweepEveryMs(this.ttlMs);
  }

  async transaction<T>(
    idempotency: IdempotencyContext | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T> {
    if (!idempotency) return this.dataSource.transaction(work);
    const outcome = await this.dataSource.transaction(async (em) => {
      const stored = await this.claim(em, idempotency);
      if (stored) return { replayed: true, body: stored.responseBody };
      const body = await work(em);
      await this.store(em, idempotency, body);
      return { replayed: false, body };
    });
    this.sweepSoon();
    idempotency.replayed = outcome.replayed;
    // A replay answers the stored JSON, which serialises to exactly the first answer's text.
    return outcome.body as T;
  }

  private async claim(em: EntityManager, idempotency: IdempotencyContext): Promise<StoredRow | undefined> {
    const [{ locked }] = await em.query(
      `SELECT pg_try_advisory_xact_lock(hashtext('cachegate:idempotency'), hashtext($1)) AS locked`,
      [`${idempotency.route} ${idempotency.key}`],
    );
    if (!locked) {
      throw new ConflictException(
        'a request with this Idempotency-Key is still in progress; retry it once that one has finished',
      );
    }
    const rows: StoredRow[] = await em.query(
      `SELECT request_hash AS "requestHash", response_body AS "responseBody", expires_at <= now() AS expired
         FROM bff.idempotency_keys WHERE key = $1 AND route = $2`,
      [idempotency.key, idempotency.route],
    );
    switch (decide(rows[0], idempotency.requestHash)) {
      case 'new':
        return undefined;
      case 'expired':
        await em.query(`DELETE FROM bff.idempotency_keys WHERE key = $1 AND route = $2`, [
          idempotency.key,
          idempotency.route,
        ]);
        return undefined;
      case 'mismatch':
        throw new UnprocessableEntityException(
          'Idempotency-Key was already used with a different request; send a new key for a new request',
        );
      case 'replay':
        return rows[0];
    }
  }

  private async store(em: EntityManager, idempotency: IdempotencyContext, body: unknown): Promise<void> {
    await em.query(
      `INSERT INTO bff.idempotency_keys (key, route, request_hash, status_code, response_body, expires_at)
       VALUES ($1, $2, $3, $4, $5::json, now() + $6 * interval '1 millisecond')`,
      [
        idempotency.key,
        idempotency.route,
        idempotency.requestHash,
        idempotency.statusCode,
        JSON.stringify(body ?? null),
        this.ttlMs,
      ],
    );
  }

  /** Deletes expired rows, at most once per sweep period and never twice at once; never in a request's way. */
  private sweepSoon(): void {
    const now = Date.now();
    if (this.sweeping || now - this.lastSweep < this.sweepEveryMs) return;
    this.lastSweep = now;
    this.sweeping = true;
    this.dataSource
      .query(
        `DELETE FROM bff.idempotency_keys WHERE (key, route) IN (
           SELECT key, route FROM bff.idempotency_keys WHERE expires_at <= now()
            LIMIT ${SWEEP_BATCH} FOR UPDATE SKIP LOCKED)`,
      )
      .catch((err: unknown) => this.logger.warn(`sweeping expired idempotency keys failed: ${(err as Error).message}`))
      .finally(() => {
        this.sweeping = false;
      });
  }
}
