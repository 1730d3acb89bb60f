import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One generic statement-level capture function (docs/contract.md §6.1), for
 * the tables of scaffolded cache domains: their migrations (written by the
 * cache-domain schematic) are CREATE TRIGGER statements naming it, with no
 * plpgsql of their own. The catalog and orders tables keep their own functions
 * (1763700400000), which add `data` this one cannot know.
 *
 * cdc.capture_rows() is called by `AFTER INSERT|UPDATE|DELETE … REFERENCING …
 * FOR EACH STATEMENT` triggers with TG_ARGV = (domain, aggregate, key column
 * [, kind]). Without a kind, the table holds the aggregates, keyed by the key
 * column (its primary key): one outbox row per changed row, typed
 * `<domain>.<aggregate>.<inserted|updated|deleted>` as in 1763700400000 (an
 * UPDATE that changes the key emits the old id deleted and the new one
 * inserted). With a kind (`updated`), the table extends the aggregate (like
 * catalog.stock_levels): the key column names the aggregate a row belongs to,
 * and each aggregate the statement touched, before or after, gets one row of
 * that kind. Either way `data` is `{}`, the source is the table changed
 * (`postgres:<schema>.<table>`), and one NOTIFY follows when rows were written.
 * TRUNCATE goes through cdc.capture_truncate(domain, aggregate) (1763700200000).
 *
 * The key column is named at run time (dynamic SQL over the transition
 * tables), so a wrong name would only fail the table's first write:
 * cdc.check_capture_key() lets a migration fail instead, before it creates the
 * triggers. Keys must be uuids, as the items of a scaffolded domain are.
 */
export class GenericCapture1763700500000 implements MigrationInterface {
  name = 'GenericCapture1763700500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION cdc.capture_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        v_domain    text := TG_ARGV[0];
        v_aggregate text := TG_ARGV[1];
        v_key       text := TG_ARGV[2];
        v_kind      text := TG_ARGV[3];
        v_type      text := TG_ARGV[0] || '.' || TG_ARGV[1] || '.';
        v_source    text := 'postgres:' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
        v_written   bigint;
      BEGIN
        IF v_kind IS NOT NULL THEN
          EXECUTE format(
            'INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
             SELECT $1, $2, $3, touched.id::text, $4
               FROM (%s) touched (id)
              WHERE touched.id IS NOT NULL',
            CASE TG_OP
              WHEN 'INSERT' THEN format('SELECT DISTINCT n.%I FROM new_rows n', v_key)
              WHEN 'DELETE' THEN format('SELECT DISTINCT o.%I FROM old_rows o', v_key)
              ELSE format('SELECT n.%1$I FROM new_rows n UNION SELECT o.%1$I FROM old_rows o', v_key)
            END)
          USING v_domain, v_type || v_kind, v_aggregate, v_source;
        ELSIF TG_OP = 'INSERT' THEN
          EXECUTE format(
            'INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
             SELECT $1, $2, $3, n.%I::text, $4 FROM new_rows n', v_key)
          USING v_domain, v_type || 'inserted', v_aggregate, v_source;
        ELSIF TG_OP = 'UPDATE' THEN
          EXECUTE format(
            'INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
             SELECT $1,
                    $2 || CASE WHEN o.%1$I IS NULL THEN ''inserted''
                               WHEN n.%1$I IS NULL THEN ''deleted''
                               ELSE ''updated'' END,
                    $3, COALESCE(n.%1$I, o.%1$I)::text, $4
               FROM new_rows n FULL JOIN old_rows o ON o.%1$I = n.%1$I', v_key)
          USING v_domain, v_type, v_aggregate, v_source;
        ELSE
          EXECUTE format(
            'INSERT INTO cdc.outbox (domain, type, aggregate_type, aggregate_id, source)
             SELECT $1, $2, $3, o.%I::text, $4 FROM old_rows o', v_key)
          USING v_domain, v_type || 'deleted', v_aggregate, v_source;
        END IF;
        -- EXECUTE leaves FOUND alone; ROW_COUNT says whether the statement wrote any outbox row.
        GET DIAGNOSTICS v_written = ROW_COUNT;
        IF v_written > 0 THEN PERFORM pg_notify('cachegate_cdc', v_domain); END IF;
        RETURN NULL;
      END $$`);

    await q.query(`
      CREATE FUNCTION cdc.check_capture_key(p_table regclass, p_column name) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        v_type regtype;
      BEGIN
        SELECT a.atttypid::regtype INTO v_type
          FROM pg_attribute a
         WHERE a.attrelid = p_table AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF v_type IS NULL THEN
          RAISE EXCEPTION 'cannot capture %: it has no column %', p_table, p_column;
        ELSIF v_type <> 'uuid'::regtype THEN
          RAISE EXCEPTION 'cannot capture %: its column % is %, not uuid (the items of a cache domain are keyed by uuid)',
            p_table, p_column, v_type;
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION cdc.check_capture_key(regclass, name)`);
    await q.query(`DROP FUNCTION cdc.capture_rows()`);
  }
}
