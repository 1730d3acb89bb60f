import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox's `event_id` loses its UNIQUE index (docs/contract.md §6.1). Nothing looks rows up by it,
 * its values are random UUIDs (gen_random_uuid), and an index on random keys is the dearest one to
 * write: every captured row inserted into it at a random leaf, and every publish mark (an UPDATE, so a
 * new row version) inserted into it again. A 100,000-row statement paid that twice per row, in the
 * statement and in the relay; `bench/bulk.ts` measured the difference (docs/BENCHMARKS.md, "Bulk").
 * Consumers never relied on it: events are applied at least once and idempotently.
 */
export class OutboxEventIdUnindexed1763700600000 implements MigrationInterface {
  name = 'OutboxEventIdUnindexed1763700600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE cdc.outbox DROP CONSTRAINT IF EXISTS outbox_event_id_key');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE cdc.outbox ADD CONSTRAINT outbox_event_id_key UNIQUE (event_id)');
  }
}
