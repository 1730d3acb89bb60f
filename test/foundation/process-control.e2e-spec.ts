import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../tools/free-port';
import { useTestContext } from '../harness/test-context';

/**
 * `npm start` and every `npm run start:*` stop completely on the signal a supervisor sends to the process it
 * started — SIGTERM from systemd, Docker or PM2, SIGINT as from a terminal — run exactly as a user runs them:
 * `npm` → the package.json script → scripts/start.js → the apps, each a real process on real ports.
 *
 * The apps run from dist. The launcher builds first unless CACHEGATE_SKIP_BUILD=1: the cases set it, and
 * beforeAll runs `npm run build` once instead when dist is missing or older than a source file, so every case
 * runs today's code without paying for a `nest build` each. (Signals during the build are not exercised here:
 * interrupting `nest build` would leave the shared dist half written.)
 */

const ROOT = path.resolve(__dirname, '../..');
const ENTRY_POINTS = [
  'dist/apps/bff/src/main.js',
  'dist/apps/bff/src/cache-sync.main.js',
  'dist/apps/billing/src/main.js',
];
/** Generous: a stop takes well under a second here; past this the launcher itself gives up (SIGKILL, exit 1). */
const STOP_TIMEOUT_MS = 15_000;
const BOOT_TIMEOUT_MS = 30_000;
const BUILD_TIMEOUT_MS = 240_000;
/** Every process of one case carries this in its environment, so leftovers are found wherever they were reparented. */
const RUN_MARKER = 'CACHEGATE_PROCESS_CONTROL_RUN';
/** The harness's marker (test/harness/processes.ts): leftovers of a test process that died are killed by later runs. */
const TEST_CHILD_MARKER = 'CACHEGATE_TEST_CHILD';

type Port = 'PORT' | 'BILLING_PORT';
interface Case {
  script: string;
  signal: 'SIGTERM' | 'SIGINT';
  /** The lines the script's apps log once they serve: the HTTP apps name their URL. */
  ready: { line: (ports: Record<Port, number>) => RegExp; port?: Port }[];
  /** Whether an outbox relay runs (it takes the lock on its first pass; its stop is checked). */
  relay: boolean;
  env?: Record<string, string>;
}

const BFF_LISTENING = { line: (p: Record<Port, number>) => listening('BFF', p.PORT), port: 'PORT' as const };
const BILLING_LISTENING = {
  line: (p: Record<Port, number>) => listening('billing', p.BILLING_PORT),
  port: 'BILLING_PORT' as const,
};
const CASES: Case[] = [
  { script: 'start', signal: 'SIGTERM', ready: [BILLING_LISTENING, BFF_LISTENING], relay: true },
  { script: 'start', signal: 'SIGINT', ready: [BILLING_LISTENING, BFF_LISTENING], relay: true },
  { script: 'start:bff', signal: 'SIGTERM', ready: [BFF_LISTENING], relay: true },
  { script: 'start:billing', signal: 'SIGINT', ready: [BILLING_LISTENING], relay: false },
  { script: 'start:cache-sync', signal: 'SIGTERM', ready: [{ line: () => /cache-sync running/ }], relay: true },
  {
    script: 'start:prod',
    signal: 'SIGINT',
    ready: [BFF_LISTENING],
    relay: true,
    env: { CACHE_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
  },
];

function listening(app: string, port: number): RegExp {
  return new RegExp(`"level":30,.*"msg":"cachegate ${app} listening on http://localhost:${port}"`);
}

describe('npm start and npm run start:* stop completely on SIGTERM and SIGINT to the npm process', () => {
  const ctx = useTestContext();
  let running: NpmRun | undefined;

  beforeAll(async () => {
    await buildIfStale();
  }, BUILD_TIMEOUT_MS + 10_000);

  afterEach(() => {
    // A failed case must not leave its apps holding ports (or a relay lock) for the next one.
    if (running) for (const pid of processesOf(running.token)) kill(pid, 'SIGKILL');
    running = undefined;
  });

  it.each(CASES)(
    '$script: $signal to npm → exit code 0, no process left, ports closed, shutdown logged at info',
    async ({ script, signal, ready, relay, env }) => {
      const ports: Record<Port, number> = { PORT: await freePort(), BILLING_PORT: await freePort() };
      running = NpmRun.start(script, {
        ...ctx().env({ LOG_LEVEL: 'info' }),
        BILLING_DATABASE_URL: ctx().databaseUrl,
        BILLING_URL: `http://127.0.0.1:${ports.BILLING_PORT}`,
        PORT: String(ports.PORT),
        BILLING_PORT: String(ports.BILLING_PORT),
        CACHEGATE_SKIP_BUILD: '1',
        ...env,
      });
      const run = running;

      for (const { line } of ready) await run.waitForLine(line(ports), BOOT_TIMEOUT_MS);
      if (relay) await run.waitForLine(/this process is now the active outbox relay/, BOOT_TIMEOUT_MS);
      const served = ready.flatMap(({ port }) => (port ? [ports[port]] : []));
      // The control for the checks below: the ports accept now, and npm's descendants run.
      for (const port of served) expect(await accepts(port)).toBe(true);
      expect(processesOf(run.token).length).toBeGreaterThan(1);

      run.signal(signal);

      expect(await run.exited(STOP_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(processesOf(run.token).map(describeProcess)).toEqual([]);
      for (const port of served) expect(await accepts(port)).toBe(false);

      // Every process is gone, so the pipes close and the output is complete.
      const output = await run.allOutput(STOP_TIMEOUT_MS);
      const entries = logEntries(output);
      expect(entries.filter((e) => e.level >= 40).map((e) => e.msg)).toEqual([]);
      if (relay) {
        const stepDown = entries.filter((e) => /stepped down as outbox relay/.test(e.msg));
        expect(stepDown.map((e) => e.level)).toEqual([30]);
      }
      expect(output).not.toMatch(/exited \(|still running/); // the launcher's words for an app that died or hung
    },
    BOOT_TIMEOUT_MS * 2 + STOP_TIMEOUT_MS * 2,
  );
});

/** One `npm run <script>` (or `npm start`) with its output collected. */
class NpmRun {
  readonly token = randomBytes(8).toString('hex');
  private text = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly watchers = new Set<() => void>();
  private readonly streamsEnded: Promise<void>;
  private readonly child: ChildProcess;

  private constructor(
    readonly script: string,
    env: Record<string, string>,
  ) {
    const args = script === 'start' ? ['start'] : ['run', script];
    this.child = spawn('npm', args, {
      cwd: ROOT,
      env: { ...process.env, ...env, [RUN_MARKER]: this.token, [TEST_CHILD_MARKER]: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      this.notify();
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.streamsEnded = Promise.all(
      [this.child.stdout!, this.child.stderr!].map((s) => new Promise<void>((resolve) => s.once('close', resolve))),
    ).then(() => undefined);
    // 'exit', not 'close': the pipes stay open as long as any descendant holds them, and that is under test.
    this.child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      this.notify();
    });
  }

  static start(script: string, env: Record<string, string>): NpmRun {
    return new NpmRun(script, env);
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.child.pid!, signal);
  }

  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
    await this.until(
      () => this.text.split('\n').some((l) => pattern.test(l)) || (this.exit !== undefined && 'exit'),
      timeoutMs,
      `a line matching ${pattern}`,
    ).then((outcome) => {
      if (outcome === 'exit') throw this.error(`exited (${JSON.stringify(this.exit)}) before logging ${pattern}`);
    });
  }

  async exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.until(() => this.exit !== undefined, timeoutMs, 'npm to exit');
    return this.exit!;
  }

  async allOutput(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.error(`output still open ${timeoutMs} ms after npm exited`)), timeoutMs);
    });
    await Promise.race([this.streamsEnded, timeout]).finally(() => clearTimeout(timer));
    return this.text;
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }

  /** Resolves with the first truthy answer of `check`, tried now and on every output or exit. */
  private until<T>(check: () => T, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (done: () => void) => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
        done();
      };
      const watcher = () => {
        const answer = check();
        if (answer) settle(() => resolve(answer));
      };
      const timer = setTimeout(() => settle(() => reject(this.error(`waited ${timeoutMs} ms for ${what}`))), timeoutMs);
      this.watchers.add(watcher);
      watcher();
    });
  }

  private error(message: string): Error {
    return new Error(
      `npm ${this.script} (pid ${this.child.pid}): ${message}\n--- output (tail) ---\n${this.text.slice(-6000)}`,
    );
  }
}

/** Builds dist once when it is missing or older than the sources it is built from. */
async function buildIfStale(): Promise<void> {
  const built = Math.min(...ENTRY_POINTS.map((entry) => mtimeMs(path.join(ROOT, entry))));
  const sources = ['apps', 'libs'].flatMap((dir) =>
    (readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && !f.startsWith('schematics'))
      .map((f) => path.join(ROOT, dir, f)),
  );
  if (sources.every((file) => mtimeMs(file) <= built)) return;
  const build = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  build.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  build.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => build.once('close', resolve));
  if (code !== 0) throw new Error(`npm run build failed (${code}):\n${output.slice(-6000)}`);
}

function mtimeMs(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Live processes (zombies excluded: their environment is gone) whose environment carries the run's token. */
function processesOf(token: string): number[] {
  const needle = `${RUN_MARKER}=${token}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle);
      } catch {
        return false; // exited meanwhile
      }
    })
    .map(Number);
}

function describeProcess(pid: number): string {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
  } catch {
    return `${pid}: (gone)`;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The JSON log lines (pino) in an output; npm's and the launcher's plain lines are skipped. */
function logEntries(output: string): { level: number; msg: string }[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      return typeof entry.level === 'number' ? [{ level: entry.level, msg: String(entry.msg) }] : [];
    } catch {
      return [];
    }
  });
}
