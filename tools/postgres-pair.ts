import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

const run = promisify(execFile);

/** The newest installed server's binaries (Debian's layout), or PG_BINDIR. */
function binDir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}: set PG_BINDIR`);
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

/** initdb and the server refuse to run as root: as root, run them as the `postgres` user. */
const AS_POSTGRES = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];

/** Every pair started by this worker, so a failed test cannot leave servers running. */
const running = new Set<PostgresPair>();
process.once('exit', () => {
  for (const pair of running) pair.killNow();
});

/**
 * A throwaway PostgreSQL primary and its streaming replica, each a cluster of its own in a temporary
 * directory on a free port (trust auth, no fsync: nothing here has to survive the machine). The
 * replica streams from `replicationPort`, which a test points at the primary through a proxy it can
 * cut, so that commits can reach the primary and not the replica, as with asynchronous replication
 * when the primary dies.
 *
 * - `stopPrimary()`  kills the primary (`pg_ctl stop -m immediate`: no shutdown checkpoint, like a crash);
 * - `promote()`      promotes the replica (`pg_ctl promote`), which starts a new timeline;
 * - `close()`        stops both and removes the directory.
 */
export class PostgresPair {
  private readonly bin = binDir();
  private readonly stopped = new Set<'primary' | 'replica'>();

  private constructor(
    private readonly dir: string,
    readonly primaryPort: number,
    readonly replicaPort: number,
  ) {}

  /** `replicationPort(primaryPort)`: the port the replica streams from (the primary's, or a proxy's in front of it). */
  static async start(replicationPort: (primaryPort: number) => Promise<number>): Promise<PostgresPair> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cachegate-pg-'));
    if (AS_POSTGRES.length > 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      chownSync(dir, Number(stdout.trim()), -1);
    }
    const pair = new PostgresPair(dir, await freePort(), await freePort());
    running.add(pair);
    try {
      await pair.pg('initdb', ['-D', pair.data('primary'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
      await pair.startServer('primary', pair.primaryPort);
      // -R: standby.signal and a primary_conninfo naming the replication port.
      await pair.pg('pg_basebackup', [
        '-d',
        `host=127.0.0.1 port=${await replicationPort(pair.primaryPort)} user=postgres`,
        '-D',
        pair.data('replica'),
        '-R',
        '-X',
        'stream',
      ]);
      await pair.startServer('replica', pair.replicaPort);
    } catch (err) {
      await pair.close();
      throw err;
    }
    return pair;
  }

  async stopPrimary(): Promise<void> {
    await this.stop('primary');
  }

  async promote(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.data('replica'), '-w', 'promote']);
  }

  async close(): Promise<void> {
    await this.stop('primary').catch(() => undefined);
    await this.stop('replica').catch(() => undefined);
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort at process exit. */
  killNow(): void {
    for (const name of ['primary', 'replica'] as const) {
      try {
        execFileSync(...this.command('pg_ctl', ['-D', this.data(name), '-m', 'immediate', 'stop']), {
          stdio: 'ignore',
        });
      } catch {
        // not running
      }
    }
  }

  private data(name: 'primary' | 'replica'): string {
    return path.join(this.dir, name);
  }

  private async startServer(name: 'primary' | 'replica', port: number): Promise<void> {
    const options = `-p ${port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c wal_keep_size=64MB`;
    await this.pg('pg_ctl', [
      '-D',
      this.data(name),
      '-o',
      options,
      '-l',
      path.join(this.dir, `${name}.log`),
      '-w',
      'start',
    ]);
  }

  private async stop(name: 'primary' | 'replica'): Promise<void> {
    if (this.stopped.has(name)) return;
    this.stopped.add(name);
    await this.pg('pg_ctl', ['-D', this.data(name), '-m', 'immediate', '-w', 'stop']);
  }

  private async pg(tool: string, args: string[]): Promise<void> {
    await run(...this.command(tool, args), { cwd: this.dir });
  }

  private command(tool: string, args: string[]): [string, string[]] {
    const [command, ...rest] = [...AS_POSTGRES, path.join(this.bin, tool), ...args];
    return [command, rest];
  }
}
