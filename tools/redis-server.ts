import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually';
import { freePort } from './free-port';

/** Every server started by this worker, so a failed test cannot leave one running. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Resolves once something on `port` answers PING with PONG. */
async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * A throwaway `redis-server` for failure tests, on a free port of its own. By
 * default with no persistence (a restart comes back empty, like a replaced
 * node); with `{ persistent: true }` an append-only file fsynced on every write
 * in a temporary directory, so a SIGKILL and restart brings back everything it
 * had (entries, streams, groups and their pending lists), like a production
 * Redis with AOF after a crash:
 *
 * - `stop()`   kills it (SIGKILL: clients see their connections drop at once);
 * - `start()`  starts it again on the same port;
 * - `pause()` / `resume()`  SIGSTOP / SIGCONT: connections stay open but nothing answers (a hung server);
 * - `close()`  kills it for good (call it in afterAll; a worker exit kills it too).
 */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    /** The AOF directory of a persistent server. */
    private readonly dir: string | undefined,
    /** More redis-server arguments, e.g. ['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru']. */
    private readonly args: string[] = [],
  ) {}

  static async start(options: { persistent?: boolean; args?: string[] } = {}): Promise<RedisServer> {
    for (let attempt = 0; ; attempt++) {
      const dir = options.persistent ? mkdtempSync(path.join(os.tmpdir(), 'cachegate-redis-')) : undefined;
      const server = new RedisServer(await freePort(), dir, options.args);
      try {
        await server.start();
        return server;
      } catch (err) {
        // Another process may have taken the port between the probe and the spawn.
        if (attempt >= 3) throw err;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...(this.dir ? ['--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...this.args,
      ],
      { stdio: 'ignore' },
    );
    running.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    this.child = child;
    // PING answers -LOADING while an AOF is replayed: only +PONG means ready. One that exited is not waited for.
    const ready = await eventually(async () => exited || (await pong(this.port)), {
      timeoutMs: 10_000,
      message: `redis-server to answer PONG on port ${this.port}`,
    }).then(
      () => !exited,
      () => false,
    );
    if (!ready) {
      this.child = undefined;
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${this.port}`);
    }
  }

  /** Kills the server and waits until it is gone and its port refuses connections. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGCONT'); // a paused process still dies on SIGKILL, but resume to be safe
    child.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
