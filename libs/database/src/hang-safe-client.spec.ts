import net from 'node:net';
import { Client } from 'pg';
import { closeClient, HangSafeClient, QUERY_READ_TIMEOUT } from './hang-safe-client';

/**
 * A "Postgres" that completes the startup handshake (AuthenticationOk, ReadyForQuery)
 * and then never answers a query: the server side of a hung connection. With
 * `closesOnTerminate`, it closes the connection when the client says goodbye ('X'), as Postgres does.
 */
async function hungServer(
  closesOnTerminate = false,
): Promise<{ port: number; closed: Promise<void>; stop: () => Promise<void> }> {
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: the client's FIN (after its goodbye) does not close our side: a hung peer closes nothing.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', onClosed);
    socket.on('end', onClosed); // the client is gone (half-open: our side stays open until stop)
    socket.once('data', () => {
      socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])); // 'R' AuthenticationOk
      socket.write(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])); // 'Z' ReadyForQuery, idle
      if (closesOnTerminate) socket.on('data', (d) => d[0] === 0x58 && socket.end()); // 'X' Terminate
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    closed,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('HangSafeClient', () => {
  let server: Awaited<ReturnType<typeof hungServer>>;
  const config = () => ({ host: '127.0.0.1', port: server.port, user: 'u', database: 'd', query_timeout: 50 });
  /** Like pg-pool and TypeORM, listen for the connection's end: it is reported as an 'error' event. */
  async function connected<C extends Client>(client: C): Promise<C> {
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  beforeEach(async () => {
    server = await hungServer();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('closes the connection when a query gets no answer within query_timeout', async () => {
    const client = await connected(new HangSafeClient(config()));
    await expect(client.query('UPDATE t SET x = 1')).rejects.toThrow(QUERY_READ_TIMEOUT);
    expect(client.connection.stream.destroyed).toBe(true);
    await server.closed; // the server sees it go, so Postgres rolls back what the connection left open
    // What was queued behind the lost query (TypeORM's ROLLBACK) fails at once, not after another timeout.
    await expect(client.query('ROLLBACK')).rejects.toThrow(/not queryable|terminated/i);
  });

  it('does so for callback-style queries too', async () => {
    const client = await connected(new HangSafeClient(config()));
    const err = await new Promise<Error>((resolve) => client.query('SELECT 1', (e: Error) => resolve(e)));
    expect(err.message).toBe(QUERY_READ_TIMEOUT);
    expect(client.connection.stream.destroyed).toBe(true);
  });

  it('closeClient destroys the socket of a connection whose server never closes it, after the grace', async () => {
    const client = await connected(new Client(config()));
    await closeClient(client, 50);
    expect(client.connection.stream.destroyed).toBe(true);
    await server.closed; // Postgres sees it go, and ends the session (and its locks)
  });

  it('closeClient ends a connection whose server answers the goodbye without waiting out the grace', async () => {
    await server.stop();
    server = await hungServer(true);
    const client = await connected(new Client(config()));
    await closeClient(client, 60_000); // past the test's timeout: it must not wait for it
    await server.closed;
  });

  it('(pg’s own Client keeps the connection, with the lost query still in flight on it)', async () => {
    const client = await connected(new Client(config()));
    await expect(client.query('UPDATE t SET x = 1')).rejects.toThrow(QUERY_READ_TIMEOUT);
    expect(client.connection.stream.destroyed).toBe(false);
    client.connection.stream.destroy();
  });
});
