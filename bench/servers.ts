import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../tools/free-port';

export { freePort };

export const ROOT = path.resolve(__dirname, '..');

/** A server the benchmark started as a child process; its output is kept for error messages. */
export interface BenchServer {
  name: string;
  pid: number;
  port: number;
  url: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A child process started by `spawnNode`: its recent output, and the child itself. */
interface NodeChild {
  child: ChildProcess;
  output(): string;
}

function spawnNode(args: string[], env: Record<string, string>): NodeChild {
  let output = '';
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  return { child, output: () => output };
}

/** SIGTERM, then SIGKILL after 10 s. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const escalate = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(escalate);
}

/**
 * Starts `node <args>` with `env` on a free port and waits until `readyPath`
 * answers anything below 500 (a 404 from an empty route counts as up).
 */
export async function startServer(
  name: string,
  args: string[],
  env: Record<string, string>,
  readyPath = '/health',
): Promise<BenchServer> {
  const port = await freePort();
  const { child, output } = spawnNode(args, { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start:\n${output()}`);
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      // Not left running behind the error: the caller never got a handle to stop it.
      child.kill('SIGKILL');
      throw new Error(`${name} did not become ready:\n${output()}`);
    }
    await sleep(200);
  }
  return { name, pid: child.pid!, port, url, stop: () => terminate(child) };
}

/** A process without HTTP (apps/cache-sync), ready once its output matches a pattern. */
export interface BenchWorker {
  name: string;
  pid: number;
  output(): string;
  /** SIGKILL, no shutdown hooks: a crash. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `node <args>` with `env` and waits until its output matches `ready`. */
export async function startWorker(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<BenchWorker> {
  const { child, output } = spawnNode(args, env);
  const deadline = Date.now() + 60_000;
  while (!ready.test(output())) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start:\n${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become ready:\n${output()}`);
    }
    await sleep(100);
  }
  return {
    name,
    pid: child.pid!,
    output,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    stop: () => terminate(child),
  };
}

/**
 * The young generation scripts/start.js gives the CDC apps (CDC_NODE_FLAGS): the bench runs them as shipped,
 * and every comparison app with the same, so that no ratio owes anything to a GC setting.
 */
const NODE_FLAGS = ['--max-semi-space-size=64'];
export const BFF_ENTRY = 'dist/apps/bff/src/main.js';
export const BFF_MAIN = [...NODE_FLAGS, BFF_ENTRY];
export const CACHE_SYNC_ENTRY = 'dist/apps/bff/src/cache-sync.main.js';
export const CACHE_SYNC_MAIN = [...NODE_FLAGS, CACHE_SYNC_ENTRY];
/** The comparison apps run from TypeScript source (loading only; the hot path is plain JS once compiled). */
export const tsApp = (file: string) => [
  ...NODE_FLAGS,
  '-r',
  'ts-node/register/transpile-only',
  path.join('bench/apps', file),
];
