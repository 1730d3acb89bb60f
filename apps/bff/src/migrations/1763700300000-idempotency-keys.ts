import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored answers of the idempotent creating POSTs (docs/contract.md §3 "Idempotent creation",
 * apps/bff/src/idempotency). A row is written in the same transaction as the
 * write it answers for, so it exists exactly when that write committed.
 *
 * Schema `bff`: the BFF's own bookkeeping, owned by no domain and not captured
 * (no CDC trigger; nothing is cached from it). A key belongs to one route
 * (`POST /orders/:id/items`); `request_hash` is the SHA-256 of the method, the
 * path and the canonical JSON body, so the same key with another request is
 * told apart. `response_body` is `json`, not `jsonb`: it keeps the exact text
 * (key order included) that was answered, so a replay is byte-for-byte the
 * first answer. Rows past `expires_at` are ignored and pruned.
 */
export class IdempotencyKeys1763700300000 implements MigrationInterface {
  name = 'IdempotencyKeys1763700300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS bff`);
    await q.query(`
      CREATE TABLE bff.idempotency_keys (
        key            text NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
        route          text NOT NULL CHECK (char_length(route) BETWEEN 1 AND 300),
        request_hash   text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
        status_code    integer NOT NULL CHECK (status_code BETWEEN 200 AND 299),
        response_body  json NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        expires_at     timestamptz NOT NULL,
        PRIMARY KEY (key, route),
        CHECK (expires_at > created_at)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_expires_at ON bff.idempotency_keys (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE bff.idempotency_keys`);
    await q.query(`DROP SCHEMA IF EXISTS bff`);
  }
}
