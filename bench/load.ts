import autocannon from 'autocannon';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Which load generator drives the throughput scenarios: wrk (C, one event-loop
 * thread, a few % of a core at these rates) where installed, autocannon (a Node
 * process that takes about a core of the same 2 the servers run on) otherwise.
 */
export type LoadGenerator = 'wrk' | 'autocannon';

/** wrk when the `wrk` binary runs, otherwise autocannon (the fallback, labelled as such in the report). */
export function availableGenerator(): LoadGenerator {
  return spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error ? 'autocannon' : 'wrk';
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  url: string;
  paths: string[];
  connections: number;
  durationSeconds: number;
  /** Defaults to availableGenerator(). */
  generator?: LoadGenerator;
}

/** Drives GETs over `paths` (round robin) with wrk or autocannon and summarises the run. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  return (options.generator ?? availableGenerator()) === 'wrk' ? loadWithWrk(options) : loadWithAutocannon(options);
}

async function loadWithAutocannon(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    pipelining: 1,
    requests: options.paths.map((path) => ({ method: 'GET', path })),
  });
  return {
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * A wrk script that sends GETs over `paths` round robin, each connection's
 * thread from its own position. The requests are formatted once, in `init`.
 */
export function wrkScript(paths: string[]): string {
  for (const p of paths) {
    if (!/^\/[A-Za-z0-9/._~%:@?&=+-]*$/.test(p)) throw new Error(`not a plain request path: ${JSON.stringify(p)}`);
  }
  return [
    `local paths = { ${paths.map((p) => `"${p}"`).join(', ')} }`,
    'local requests = {}',
    'local i = 0',
    'init = function(args)',
    '  for n, p in ipairs(paths) do requests[n] = wrk.format("GET", p) end',
    'end',
    'request = function()',
    '  i = i % #requests + 1',
    '  return requests[i]',
    'end',
    '',
  ].join('\n');
}

const run = promisify(execFile);

async function loadWithWrk(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cachegate-wrk-'));
  try {
    const script = path.join(dir, 'paths.lua');
    writeFileSync(script, wrkScript(options.paths));
    // One thread: at the rates measured here it is far from busy, and the servers keep the other cycles.
    const { stdout } = await run('wrk', [
      '-t1',
      `-c${options.connections}`,
      `-d${options.durationSeconds}s`,
      '--latency',
      '-s',
      script,
      options.url,
    ]);
    return parseWrkOutput(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WRK_TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** wrk's `--latency` report: total requests, requests/s, the 50 % and 99 % latencies, socket errors and non-2xx/3xx. */
export function parseWrkOutput(text: string): LoadResult {
  const match = (pattern: RegExp, what: string) => {
    const m = pattern.exec(text);
    if (!m) throw new Error(`wrk output has no ${what}:\n${text}`);
    return m;
  };
  const latencyMs = (percent: number) => {
    const [, value, unit] = match(
      new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm'),
      `${percent}% latency`,
    );
    return Math.round(Number(value) * WRK_TIME_UNITS[unit] * 100) / 100;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(match(/^\s*(\d+) requests in /m, 'request count')[1]),
    requestsPerSecond: Math.round(Number(match(/^Requests\/sec:\s+([\d.]+)/m, 'requests/s')[1])),
    p50Ms: latencyMs(50),
    p99Ms: latencyMs(99),
    errors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
  };
}
