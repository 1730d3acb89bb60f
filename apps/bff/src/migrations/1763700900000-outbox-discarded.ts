import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbox rows discarded before they were published (deleted, truncated, or marked published by hand) drop
 * their domains (docs/contract.md §6.1).
 *
 * Faced with a large backlog, an operator may clear the outbox by hand. The changes those rows described
 * would never reach a cache, and with no TTL on CDC buckets their views would stay wrong for good. So:
 *
 * - a `DELETE` that removes unpublished rows writes, in its transaction, one
 *   `<domain>.<aggregate>.truncated` event per domain and aggregate among them: their views all go, as after
 *   a TRUNCATE of the aggregate's table. The relay's pruning deletes published rows only and writes nothing;
 * - an `UPDATE` that marks unpublished rows published, by anyone but the relay's marking session, does the
 *   same: the backlog "marked done by hand" is as lost as a deleted one;
 * - a `TRUNCATE cdc.outbox` cannot tell what it removed: it writes a `truncated` event for every captured
 *   table's domain and aggregate (cdc.captured_tables(), migration 1763700800000).
 *
 * Either way a relay publishes the new rows, and every instance drops those domains (fenced).
 */
export class OutboxDiscarded1763700900000 implements MigrationInterface {
  name = 'OutboxDiscarded1763700900000';

  async up(q: QueryRunner): Promise<void> {
    // A row trigger whose WHEN skips published rows costs the relay's pruning nothing (a statement trigger with a
    // transition table would copy every pruned row). One event per domain and aggregate per statement: the flag
    // holds the statement's timestamp, so a later DELETE that removes the event itself writes another.
    await q.query(`
      CREATE FUNCTION cdc.outbox_row_discarded() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        flag text := 'cachegate.discarded_' || md5(OLD.domain || '.' || OLD.aggregate_type);
      BEGIN
        IF current_setting(flag, true) IS DISTINCT FROM statement_timestamp()::text THEN
          PERFORM set_config(flag, statement_timestamp()::text, true);
          INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
          VALUES (OLD.domain, OLD.domain || '.' || OLD.aggregate_type || '.truncated', OLD.aggregate_type, '*',
                  CASE TG_OP WHEN 'DELETE' THEN 'postgres:cdc.outbox (rows deleted unpublished)'
                             ELSE 'postgres:cdc.outbox (rows marked published by hand)' END, '{}'::jsonb);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER outbox_row_discarded AFTER DELETE ON cdc.outbox
        FOR EACH ROW WHEN (OLD.published_at IS NULL) EXECUTE FUNCTION cdc.outbox_row_discarded()`);
    // The relay's marking session says who it is (OutboxRelay: -c cachegate.relay_marks=on); the check is part of
    // WHEN, so the relay's own marks cost a setting lookup per row and no function call.
    await q.query(`
      CREATE TRIGGER outbox_row_skipped AFTER UPDATE OF published_at ON cdc.outbox
        FOR EACH ROW WHEN (OLD.published_at IS NULL AND NEW.published_at IS NOT NULL
                           AND current_setting('cachegate.relay_marks', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION cdc.outbox_row_discarded()`);
    await q.query(`
      CREATE FUNCTION cdc.outbox_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source, data)
        SELECT DISTINCT domain, domain || '.' || aggregate || '.truncated', aggregate, '*',
               'postgres:cdc.outbox (truncated)', '{}'::jsonb
          FROM cdc.captured_tables() WHERE domain IS NOT NULL;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER outbox_truncated AFTER TRUNCATE ON cdc.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION cdc.outbox_truncated()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER outbox_truncated ON cdc.outbox`);
    await q.query(`DROP FUNCTION cdc.outbox_truncated()`);
    await q.query(`DROP TRIGGER outbox_row_skipped ON cdc.outbox`);
    await q.query(`DROP TRIGGER outbox_row_discarded ON cdc.outbox`);
    await q.query(`DROP FUNCTION cdc.outbox_row_discarded()`);
  }
}
