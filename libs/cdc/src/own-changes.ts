import { CdcEvent, MESSAGE_VERSION, parseEnvelope } from './cdc-event';
import { outboxEnvelopeSql } from './outbox-envelope';

/** A query run inside the writing transaction (TypeORM's EntityManager.query has this shape). */
export type TransactionQuery = (sql: string, parameters: unknown[]) => Promise<unknown[]>;

/**
 * A transaction's own captured changes, read back inside it, so the process that made a write can apply
 * its invalidation before it answers (docs/contract.md §6.4, read-your-writes), with the very events the
 * relay will publish and every instance's consumer apply again later.
 *
 * `mark` before the writes, `since(mark)` after them: the outbox rows past the mark that this
 * transaction inserted (`xmin` is its own transaction id). The mark bounds the scan to the ids taken
 * since, whatever backlog of unpublished rows the outbox holds.
 */
export const ownChanges = {
  async mark(query: TransactionQuery): Promise<string> {
    const [row] = (await query('SELECT last_value::text AS mark FROM cdc.outbox_id_seq', [])) as { mark: string }[];
    return row.mark;
  },

  async since(query: TransactionQuery, mark: string): Promise<CdcEvent[]> {
    const rows = (await query(
      `SELECT ${outboxEnvelopeSql(2)} AS event FROM cdc.outbox
        WHERE id > $1 AND xmin = pg_current_xact_id()::xid ORDER BY id`,
      [mark, MESSAGE_VERSION],
    )) as { event: string }[];
    return rows.map((r) => parseEnvelope(r.event));
  },
};
