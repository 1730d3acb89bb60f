import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { eventually } from '../../tools/eventually';
import { freePort } from '../../tools/free-port';

/**
 * Apps started as real child processes from their TypeScript sources, for the
 * tests where a crash is the point (SIGKILL cannot be simulated in-process: it
 * gives no shutdown hook, no last XACK, no orderly release of a lock), and for
 * running another copy of the repository (`root`: code the schematic generated).
 *
 *   const procs = useChildProcesses();             // in a describe block: kills leftovers in afterAll
 *   const sync = await procs.start('cache-sync', ctx().env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true' }));
 *   await sync.kill('SIGKILL');
 *
 * The child runs `node -r ts-node/register/transpile-only -r tsconfig-paths/register <entry point>` (the BFF's
 * main.ts or cache-sync.main.ts)
 * with the given environment on top of this process's. Its stdout and stderr are collected (`output`)
 * and quoted in every failure message, so a child that failed to boot explains itself.
 */

export type ChildAppName = 'cache-sync' | 'bff';

/** The BFF's two entry points (immich's api/microservices split): HTTP + CDC, or CDC alone. */
const ENTRY_POINTS: Record<ChildAppName, string> = {
  bff: 'apps/bff/src/main.ts',
  'cache-sync': 'apps/bff/src/cache-sync.main.ts',
};
export type ExitState = { code: number | null; signal: NodeJS.Signals | null };

const ROOT = path.resolve(__dirname, '../..');
const OUTPUT_LIMIT = 512 * 1024;
/** Set in each child's environment to the pid of the test process that started it, so leftovers can be found. */
const MARKER = 'CACHEGATE_TEST_CHILD';

const live = new Set<ChildApp>();
// A jest worker that exits (or is torn down) without afterAll must not leave children behind.
process.once('exit', () => {
  for (const child of live) child.killNow();
});

export interface StartOptions {
  /** Shown in messages; defaults to the app name and a counter. */
  name?: string;
  /** How long to wait for readiness (ts-node compiles the app on each start: allow several seconds). */
  readyTimeoutMs?: number;
  /** LOG_LEVEL of the child; `info` or more verbose, since readiness is read from the log. */
  logLevel?: 'info' | 'debug' | 'trace';
  /**
   * The copy of the repository whose entry point runs (default: this one), e.g. a scratch copy the
   * cache-domain schematic generated into (test/schematics); it needs its own node_modules (a link will do).
   */
  root?: string;
}

export class ChildApp {
  private text = '';
  private exit: ExitState | undefined;
  private readonly exited: Promise<ExitState>;
  private readonly watchers: (() => void)[] = [];

  private constructor(
    readonly name: string,
    readonly app: ChildAppName,
    private readonly child: ChildProcess,
    /** The HTTP port of a BFF child. */
    readonly port: number | undefined,
  ) {
    const collect = (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      if (this.text.length > OUTPUT_LIMIT) this.text = this.text.slice(-OUTPUT_LIMIT);
      for (const w of [...this.watchers]) w();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': only then has everything the child wrote been read.
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        for (const w of [...this.watchers]) w();
        resolve(this.exit);
      });
    });
  }

  /** Spawns the app and resolves once it is ready: a BFF answers GET /health/cdc, cache-sync logged that it runs. */
  static async start(app: ChildAppName, env: Record<string, string>, options: StartOptions = {}): Promise<ChildApp> {
    const port = app === 'bff' ? await freePort() : undefined;
    const root = options.root ?? ROOT;
    const entry = path.join(root, ENTRY_POINTS[app]);
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', entry],
      {
        cwd: root,
        env: {
          ...process.env,
          TS_NODE_PROJECT: path.join(root, 'tsconfig.json'),
          ...env,
          // Readiness and leadership are read from the log (ctx().env() says 'silent'): info at least.
          LOG_LEVEL: options.logLevel ?? 'info',
          ...(port !== undefined ? { PORT: String(port) } : {}),
          [MARKER]: String(process.pid),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const started = new ChildApp(options.name ?? `${app}#${child.pid}`, app, child, port);
    live.add(started);
    try {
      await started.ready(options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      started.killNow();
      throw err;
    }
    return started;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    if (this.port === undefined) throw new Error(`${this.name} has no HTTP port`);
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything the child wrote so far (stdout and stderr, interleaved as received). */
  get output(): string {
    return this.text;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends the signal and waits for the process to be gone. */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL', timeoutMs = 10_000): Promise<ExitState> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
    if (result) return result;
    this.killNow();
    throw this.error(`did not exit within ${timeoutMs} ms of ${signal}`);
  }

  /** Synchronous last resort (afterAll, process exit). */
  killNow(): void {
    if (this.exit) return;
    try {
      this.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Resolves with the first output line matching `pattern` (already written or still to come). */
  async waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.text.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return done(() => resolve(line));
        const exit = this.exit;
        if (exit) return done(() => reject(this.error(`exited (${describe(exit)}) before logging ${pattern}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(this.error(`logged nothing matching ${pattern} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        const i = this.watchers.indexOf(check);
        if (i >= 0) this.watchers.splice(i, 1);
        settle();
      };
      this.watchers.push(check);
      check();
    });
  }

  /** GET on a BFF child; the parsed JSON body, status and headers. */
  async get<T = any>(urlPath: string): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(this.url + urlPath, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: body as T, headers: res.headers };
  }

  /** An Error that carries the tail of the child's output. */
  error(message: string): Error {
    return new Error(
      `${this.name} (pid ${this.child.pid}) ${message}\n--- its output (tail) ---\n${this.text.slice(-6000)}`,
    );
  }

  private async ready(timeoutMs: number): Promise<void> {
    if (this.app === 'cache-sync') {
      await this.waitForLine(/cache-sync running/, timeoutMs);
      return;
    }
    // Ready, or gone: a child that exited is not waited for until the timeout.
    await eventually(async () => this.exit !== undefined || (await this.get('/health/cdc')).status === 200, {
      timeoutMs,
      intervalMs: 100,
      message: 'GET /health/cdc to answer 200',
    }).catch((err: Error) => {
      throw this.error(`was not ready: ${err.message}`);
    });
    if (this.exit) throw this.error(`exited (${describe(this.exit)}) before it was ready`);
  }
}

function describe(exit: ExitState): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/**
 * Kills children whose test process is gone: a worker that died hard (SIGKILL, out of memory) ran neither
 * afterAll nor its exit hook. They are found by the marker in their environment (Linux /proc).
 */
export function killOrphanedChildren(): number {
  let killed = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0; // no /proc: nothing to look at
  }
  for (const pid of pids) {
    let owner: number | undefined;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const entry = env.find((e) => e.startsWith(`${MARKER}=`));
      owner = entry ? Number(entry.slice(MARKER.length + 1)) : undefined;
    } catch {
      continue; // gone, or not ours to read
    }
    if (!owner || !Number.isInteger(owner) || alive(owner)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * For a describe block: `start` spawns child apps, and afterAll kills every one
 * still running (SIGKILL: leftovers must never outlive the file). Children left
 * by an earlier test process that died hard are killed before the first start.
 */
export function useChildProcesses(): {
  start: (app: ChildAppName, env: Record<string, string>, options?: StartOptions) => Promise<ChildApp>;
  all: ChildApp[];
} {
  const all: ChildApp[] = [];
  beforeAll(() => {
    killOrphanedChildren();
  });
  afterAll(async () => {
    await Promise.allSettled(all.filter((c) => c.running).map((c) => c.kill('SIGKILL')));
  });
  return {
    all,
    start: async (app, env, options) => {
      const child = await ChildApp.start(app, env, options);
      all.push(child);
      return child;
    },
  };
}
