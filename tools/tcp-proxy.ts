import net from 'node:net';

export type ProxyMode = 'forward' | 'refuse' | 'blackhole' | 'hold';

/** One proxied connection: the client's socket and the proxy's socket to the target. */
interface ProxiedPair {
  client: net.Socket;
  upstream: net.Socket;
}

/**
 * An in-process TCP proxy for failure tests and the soak's partition phase: point
 * a client at `port` and the proxy forwards to the target (e.g. Postgres), until
 * the test cuts it.
 *
 * - `cut()`       stops accepting (new connections are refused) and destroys every open one.
 * - `blackhole()` destroys every open connection, then accepts new ones but never forwards a byte,
 *                 so clients hang until their own timeouts: the "dead but not refusing" server.
 * - `hold()`      a partition: keeps every connection open (nothing is closed or reset) but stops
 *                 forwarding in both directions; bytes sent meanwhile wait in the proxy. New connections
 *                 are accepted and held too. Clients hang until their own timeouts.
 * - `holdEstablished()` holds the connections open now, as `hold()` does, and forwards new ones: the
 *                 connection that hangs for good (a half-open TCP connection, a stuck middlebox) while the
 *                 server itself answers whoever connects afresh.
 * - `release()`   ends a hold: the held bytes are delivered and forwarding resumes on the same connections.
 * - `restore()`   forwards again on the same port (after a hold, the same as `release()`).
 * - `retarget(port)` a failover behind a stable address: destroys every open connection and forwards new
 *                 ones to another port.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<ProxiedPair>();
  /** Pairs holdEstablished() holds while new ones are forwarded. */
  private readonly held = new Set<ProxiedPair>();
  private mode: ProxyMode = 'forward';
  private boundPort = 0;

  private constructor(
    private readonly targetHost: string,
    private targetPort: number,
  ) {}

  static async start(target: { host?: string; port?: number } = {}): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.host ?? '127.0.0.1', target.port ?? 5432);
    await proxy.listen();
    return proxy;
  }

  /** The local port clients connect to; stays the same across cut() and restore(). */
  get port(): number {
    return this.boundPort;
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  /** Open client and upstream sockets (both sides of every proxied connection). */
  get openSockets(): number {
    return this.sockets.size;
  }

  async cut(): Promise<void> {
    this.mode = 'refuse';
    this.destroyAll();
    await this.stopListening();
  }

  async blackhole(): Promise<void> {
    this.mode = 'blackhole';
    this.destroyAll();
    await this.listen();
  }

  async hold(): Promise<void> {
    this.mode = 'hold';
    for (const pair of this.pairs) unlink(pair);
    await this.listen();
  }

  async holdEstablished(): Promise<void> {
    for (const pair of this.pairs) {
      unlink(pair);
      this.held.add(pair);
    }
    await this.listen();
  }

  async release(): Promise<void> {
    await this.restore();
  }

  async restore(): Promise<void> {
    // Blackholed connections would hang forever; clients must reconnect to a forwarding proxy.
    if (this.mode === 'blackhole') this.destroyAll();
    const held = this.mode === 'hold' ? [...this.pairs] : [...this.held];
    this.mode = 'forward';
    for (const pair of held) link(pair);
    this.held.clear();
    await this.listen();
  }

  async retarget(port: number): Promise<void> {
    this.destroyAll();
    this.targetPort = port;
    await this.restore();
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    this.destroyAll();
    await this.stopListening();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // Resets are the point of this proxy; they must not crash the test process.
    socket.on('error', () => socket.destroy());
  }

  private onConnection(client: net.Socket): void {
    // A connection that raced cut() (accepted before the listener closed) is refused too.
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    this.track(client);
    if (this.mode === 'blackhole') return; // hold the connection, send nothing
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    const pair = { client, upstream };
    this.pairs.add(pair);
    if (this.mode === 'forward') link(pair); // held: linked by release()
    client.on('close', () => {
      this.pairs.delete(pair);
      this.held.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  }

  private destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pairs.clear();
    this.held.clear();
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // close() waits for open connections; destroyAll() has ended them already.
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Forwards both ways (pipe() resumes a paused socket, so bytes held meanwhile go first). */
function link({ client, upstream }: ProxiedPair): void {
  client.pipe(upstream);
  upstream.pipe(client);
}

/** Stops forwarding both ways without closing anything: unread bytes stay buffered in the proxy and the kernel. */
function unlink({ client, upstream }: ProxiedPair): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  client.pause();
  upstream.pause();
}
