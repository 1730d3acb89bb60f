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
    // The one definition of "captured" and "capture on": the capture triggers of each table, the domain and
    // aggregate from its capture_truncate's arguments (NULL when that one is gone), on when all four fire in
    // ordinary sessions. Also read by the outbox's TRUNCATE trigger (1763700900000) and /health/cdc.
    // encode(…, 'escape') renders the NUL that ends each trigger argument as the four characters \000.
    await q.query(`
      CREATE FUNCTION cdc.captured_tables()
        RETURNS TABLE (rel oid, name text, domain text, aggregate text, capture_on boolean)
        LANGUAGE sql STABLE AS $$
          SELECT g.rel, format('%I.%I', n.nspname, c.relname),
                 split_part(g.args, '\\000', 1), split_part(g.args, '\\000', 2), g.enabled = 4
            FROM (SELECT tgrelid AS rel,
                         encode((array_agg(tgargs) FILTER (WHERE tgname = 'capture_truncate'))[1], 'escape') AS args,
                         count(*) FILTER (WHERE tgenabled IN ('O', 'A')) AS enabled
                    FROM pg_trigger
                   WHERE NOT tgisinternal
                     AND tgname IN ('capture_insert', 'capture_update', 'capture_delete', 'capture_truncate')
                   GROUP BY tgrelid) g
            JOIN pg_class c ON c.oid = g.rel
            JOIN pg_namespace n ON n.oid = c.relnamespace
        $$`);
    // The tables a command touched: an ALTER TABLE names the table, a CREATE TRIGGER the trigger.
    await q.query(`
      CREATE FUNCTION cdc.capture_resumed() RETURNS event_trigger LANGUAGE plpgsql AS $$
      DECLARE
        r record;
      BEGIN
        FOR r IN
          SELECT t.domain, t.aggregate, t.name FROM cdc.captured_tables() t
           WHERE t.capture_on
             AND t.rel IN (SELECT CASE WHEN d.classid = 'pg_trigger'::regclass
                                       THEN (SELECT tg.tgrelid FROM pg_trigger tg WHERE tg.oid = d.objid)
                                       ELSE d.objid END
                             FROM pg_event_trigger_ddl_commands() d)
        LOOP
          PERFORM cdc.capture(r.domain, r.aggregate, 'truncated', '*', 'postgres:' || r.name, '{}'::jsonb);
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
    await q.query(`DROP FUNCTION cdc.captured_tables()`);
  }
}
