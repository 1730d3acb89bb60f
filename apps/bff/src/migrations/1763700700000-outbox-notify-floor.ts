import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every transaction that writes outbox rows tells the relay where they start (docs/contract.md §6.1).
 *
 * A statement-level trigger on cdc.outbox itself (so it covers every capture function, TRUNCATE capture
 * and other writers alike) sends `NOTIFY cachegate_cdc, '<floor>'` once per transaction, at its first
 * INSERT into the outbox: the floor is the outbox sequence's last value just before that INSERT, so every
 * row the transaction writes has a higher id (the sequence hands out values in increasing order, one at a
 * time: it has no per-session cache). The notification is delivered at commit, and only then.
 *
 * Why: the relay's pass walks outbox_unpublished_idx in id order, and rows of transactions still open sit in
 * that index too, invisible but visited (a heap fetch each). Woken from id 0, every pass during a 100,000-row
 * statement's capture and commit visited all of them: about 10 ms of Postgres time per pass, a pass per
 * single-row commit. Woken from the committing transaction's floor it visits only rows captured after it.
 * The relay's poll (every second) still walks from 0, the backstop for a missed notification.
 *
 * A subtransaction rolled back takes its notification and its once-per-transaction flag with it, so the
 * next capturing statement notifies again. The capture functions' older `NOTIFY cachegate_cdc, '<domain>'`
 * stay (migrations are history); the relay ignores a payload that is not a floor.
 */
export class OutboxNotifyFloor1763700700000 implements MigrationInterface {
  name = 'OutboxNotifyFloor1763700700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION cdc.notify_outbox_floor() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- set_config(…, true) lasts until the transaction (or the subtransaction that set it) ends.
        IF current_setting('cachegate.outbox_floor_sent', true) IS DISTINCT FROM 'on' THEN
          PERFORM set_config('cachegate.outbox_floor_sent', 'on', true);
          PERFORM pg_notify('cachegate_cdc', coalesce(pg_sequence_last_value('cdc.outbox_id_seq'), 0)::text);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER outbox_notify_floor BEFORE INSERT ON cdc.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION cdc.notify_outbox_floor()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER outbox_notify_floor ON cdc.outbox`);
    await q.query(`DROP FUNCTION cdc.notify_outbox_floor()`);
  }
}
