import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Capture switched back on drops what changed while it was off (docs/contract.md §6.1).
 *
 * A bulk load often runs between `ALTER TABLE … DISABLE TRIGGER ALL` and `… ENABLE TRIGGER ALL`. The rows it
 * changes reach no outbox, so no cache would ever hear of them. An event trigger at the end of every
 * `ALTER TABLE` and `CREATE TRIGGER` looks at the tables the command touched: for each captured one (it has
 * a `capture_truncate` trigger, whose arguments name its domain and aggregate) whose four capture triggers
 * are all enabled after the command, it writes `<domain>.<aggregate>.truncated`, in the command's own
 * transaction, as a TRUNCATE of the table would. The subscriber drops every view of the domain (fenced),
 * on every instance, once the command commits. Any other ALTER TABLE of a captured table (a column added)
 * drops the domain too: a schema change is a good time to forget its views anyway.
 *
 * While capture is off, /health reports the table (CdcHealthService.capture), and views cached meanwhile
 * can be stale until it is back on: that is the window the operator opened.
 *
 * Event triggers can only be created by a superuser. Run by another role, this migration creates the
 * function, warns, and skips the trigger: a superuser can create it later with the statement below, and
 * until then an operator who switched capture off flushes the domain by hand (docs/operations.md).
 */
export const CREATE_CAPTURE_RESUMED_TRIGGER = `CREATE EVENT TRIGGER cachegate_capture_resumed ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'CREATE TRIGGER') EXECUTE FUNCTION cdc.capture_resumed()`;

export class CaptureResumed1763700800000 implements MigrationInterface {
  name = 'CaptureResumed1763700800000';

  async up(q: QueryRunner): Promise<void> {
    // encode(…, 'escape') renders the NUL that ends each trigger argument as the four characters \\000.
    await q.query(`
      CREATE FUNCTION cdc.capture_resumed() RETURNS event_trigger LANGUAGE plpgsql AS $$
      DECLARE
        r record;
      BEGIN
        FOR r IN
          SELECT n.nspname, c.relname, encode(t.tgargs, 'escape') AS args
            FROM (SELECT DISTINCT CASE WHEN d.classid = 'pg_trigger'::regclass
                                       THEN (SELECT tg.tgrelid FROM pg_trigger tg WHERE tg.oid = d.objid)
                                       ELSE d.objid END AS rel
                    FROM pg_event_trigger_ddl_commands() d) touched
            JOIN pg_trigger t ON t.tgrelid = touched.rel AND t.tgname = 'capture_truncate' AND NOT t.tgisinternal
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE (SELECT count(*) FROM pg_trigger o
                   WHERE o.tgrelid = t.tgrelid AND NOT o.tgisinternal AND o.tgenabled IN ('O', 'A')
                     AND o.tgname IN ('capture_insert', 'capture_update', 'capture_delete', 'capture_truncate')) = 4
        LOOP
          PERFORM cdc.capture(split_part(r.args, '\\000', 1), split_part(r.args, '\\000', 2), 'truncated', '*',
            'postgres:' || r.nspname || '.' || r.relname, '{}'::jsonb);
        END LOOP;
      END $$`);
    await q.query(`
      DO $$
      BEGIN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          EXECUTE $sql$${CREATE_CAPTURE_RESUMED_TRIGGER}$sql$;
        ELSE
          RAISE WARNING 'cachegate: not a superuser, so the event trigger cachegate_capture_resumed was not created; '
            'capture switched off and on again will not drop the views it missed (docs/operations.md)';
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP EVENT TRIGGER IF EXISTS cachegate_capture_resumed`);
    await q.query(`DROP FUNCTION cdc.capture_resumed()`);
  }
}
