import { Client } from 'pg';

/** The error pg gives a query that got no answer within `query_timeout`. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

type AnyQuery = (...args: unknown[]) => unknown;

/**
 * pg's Client, except that a query left without an answer past `query_timeout`
 * closes the connection.
 *
 * pg rejects such a query with "Query read timeout" but keeps the connection,
 * with the query still in flight on it. Back in the pool, the next user's
 * statements queue behind it and, once the held bytes get through, Postgres runs
 * them inside whatever transaction the failed request left open: a later COMMIT
 * on that connection would commit half of the earlier, failed write (its ROLLBACK
 * timed out in the queue and was never sent). Closing the connection makes
 * Postgres roll that transaction back, fails whatever is queued on it at once
 * (the ROLLBACK does not wait a second timeout), and the pool replaces it. Like
 * any lost connection, the close is reported as an 'error' event, which pg-pool
 * (idle clients) and TypeORM (checked-out clients) listen for.
 */
export class HangSafeClient extends Client {
  override query(...args: unknown[]): any {
    const query = Client.prototype.query as AnyQuery;
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        this.closeIfUnanswered(err);
        return (last as AnyQuery)(err, ...rest);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    // Runs before the caller's own handlers (registered first), so the connection is closed before it retries.
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.closeIfUnanswered(err));
    }
    return result;
  }

  private closeIfUnanswered(err: unknown): void {
    if ((err as Error | undefined)?.message !== QUERY_READ_TIMEOUT) return;
    this.connection?.stream?.destroy();
  }
}

/**
 * Ends a session, waiting at most `graceMs` for Postgres to close it. `end()` alone waits for the server to
 * close the socket, which a connection that hangs never does; past the grace the socket is destroyed, and
 * Postgres, seeing it closed, ends the session (and releases any lock it held).
 */
export async function closeClient(client: Client, graceMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  client.connection?.stream?.destroy(); // nothing left to destroy once ended
}
