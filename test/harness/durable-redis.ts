import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './processes';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A throwaway `redis-server` that keeps its data across a crash: append-only
 * file fsynced on every write, in a temporary directory of its own. `stop()`
 * SIGKILLs it and `start()` brings it back on the same port with everything it
 * had (cache entries, streams, consumer groups and their pending lists), as a
 * production Redis with AOF would after a crash.
 *
 * (test/harness/redis-server.ts is the same idea without persistence: a restart
 * comes back empty. Both are used by test/cdc/redis-restart.e2e-spec.ts.)
 */
export class DurableRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<DurableRedis> {
    const server = new DurableRedis(await freePort(), mkdtempSync(path.join(os.tmpdir(), 'cachegate-redis-')));
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
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
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
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
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        // PING answers LOADING while the AOF is replayed: wait for a real PONG.
        const ok = await probe
          .connect()
          .then(() => probe.ping())
          .then((r) => r === 'PONG')
          .catch(() => false);
        if (ok) return;
        probe.disconnect();
        if (exited || Date.now() > deadline) {
          this.child = undefined;
          child.kill('SIGKILL');
          throw new Error(`redis-server did not start on port ${this.port}`);
        }
        await sleep(20);
      }
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: no shutdown save; what survives is what the AOF had. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
