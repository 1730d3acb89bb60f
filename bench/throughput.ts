import { readFileSync } from 'node:fs';
import { load, LoadGenerator, LoadResult } from './load';
import type { BenchServer } from './servers';

export interface Scenario {
  name: string;
  description: string;
  server: BenchServer;
  /**
   * A cachegate server whose reads must all be answered one way: the counter of the catalog's product bucket
   * (/health/catalog/cache) that every request of a round has to raise. A server whose L1 turned off would
   * otherwise be reported as `l1-hit` while it served L2 hits.
   */
  answeredBy?: 'l1Hits' | 'l2Hits';
}

export interface ThroughputRow {
  scenario: string;
  description: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests/s of each round, in round order. */
  rounds: number[];
  /** Median over rounds of this scenario's req/s divided by the reference's in the same round. */
  xCeiling: number;
  xPeer: number;
  /** The same median of within-round ratios to every reference scenario of the run (REFERENCES), by name. */
  ratios: Record<string, number>;
  /** CPU time of the server process per request (user + system, median round); null off Linux. */
  serverCpuUsPerRequest: number | null;
  /** Scenarios with `answeredBy`: the lowest share of a round's requests answered that way. */
  answeredShare?: number;
}

export interface ThroughputOptions {
  paths: string[];
  connections: number;
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  /** wrk or autocannon; availableGenerator() when not set. */
  generator?: LoadGenerator;
  log: (message: string) => void;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** User + system CPU time of a process in µs (Linux /proc), or null where that is not available. */
export function cpuMicros(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime (fields 14 and 15 of stat) in clock ticks, 100 per second on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

export interface Round extends LoadResult {
  cpuUsPerRequest: number | null;
  /** Share of the round's requests that raised the scenario's `answeredBy` counter. */
  answeredShare?: number;
}

/** The product bucket's counter a cachegate server raises per answer of that kind. */
async function answerCount(scenario: Scenario): Promise<number | undefined> {
  if (!scenario.answeredBy) return undefined;
  const res = await fetch(`${scenario.server.url}/health/catalog/cache`);
  const body = (await res.json()) as { metrics: { product: Record<string, number> } };
  return body.metrics.product[scenario.answeredBy];
}

async function measure(scenario: Scenario, options: ThroughputOptions, seconds: number): Promise<Round> {
  const answeredBefore = await answerCount(scenario);
  const before = cpuMicros(scenario.server.pid);
  const result = await load({
    url: scenario.server.url,
    paths: options.paths,
    connections: options.connections,
    durationSeconds: seconds,
    generator: options.generator,
  });
  const after = cpuMicros(scenario.server.pid);
  const answeredAfter = await answerCount(scenario);
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${scenario.name}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  }
  return {
    ...result,
    cpuUsPerRequest:
      before === null || after === null || result.requests === 0 ? null : (after - before) / result.requests,
    answeredShare:
      answeredBefore === undefined || answeredAfter === undefined || result.requests === 0
        ? undefined
        : (answeredAfter - answeredBefore) / result.requests,
  };
}

/**
 * Every scenario measured in interleaved rounds (round r starts at scenario r,
 * so none always runs first), all servers up at once. On a small shared
 * machine the speed of everything drifts by tens of percent within a minute;
 * a ratio taken between neighbouring measurements of the same round, and the
 * median over rounds, is what stays comparable. The reported req/s and
 * latencies are those of the scenario's median round.
 */
export async function measureThroughput(scenarios: Scenario[], options: ThroughputOptions): Promise<ThroughputRow[]> {
  for (const scenario of scenarios) {
    options.log(`warming up ${scenario.name}`);
    await measure(scenario, options, options.warmupSeconds); // fills caches, lets the JIT settle
  }
  const rounds: Round[][] = scenarios.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < scenarios.length; i++) {
      const index = (round + i) % scenarios.length;
      const result = await measure(scenarios[index], options, options.roundSeconds);
      rounds[index][round] = result;
      options.log(
        `round ${round + 1}/${options.rounds} ${scenarios[index].name}: ${result.requestsPerSecond} req/s, ` +
          `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`,
      );
    }
  }
  return summarise(scenarios, rounds);
}

/** The scenarios others are compared with, when the run has them (docs/contract.md §10). */
export const REFERENCES = ['ceiling', 'fastify', 'hook-floor', 'peer', 'bentocache'];

/**
 * One row per scenario from its rounds (`rounds[scenario][round]`): req/s and
 * latencies of its median round, and its ratios to each reference (`ceiling`,
 * `peer`, …) as the median of the ratios within each round; NaN for a
 * reference the run does not have.
 */
export function summarise(scenarios: Pick<Scenario, 'name' | 'description'>[], rounds: Round[][]): ThroughputRow[] {
  const ratioTo = (reference: string, i: number) => {
    const index = scenarios.findIndex((s) => s.name === reference);
    if (index < 0) return NaN;
    const base = rounds[index];
    return median(rounds[i].map((r, round) => r.requestsPerSecond / base[round].requestsPerSecond));
  };
  return scenarios.map((scenario, i) => {
    const rps = rounds[i].map((r) => r.requestsPerSecond);
    const typicalRps = median(rps);
    const typical = rounds[i].find((r) => r.requestsPerSecond === typicalRps)!;
    const cpu = rounds[i].map((r) => r.cpuUsPerRequest);
    const shares = rounds[i].flatMap((r) => (r.answeredShare === undefined ? [] : [r.answeredShare]));
    return {
      scenario: scenario.name,
      description: scenario.description,
      requestsPerSecond: typical.requestsPerSecond,
      p50Ms: typical.p50Ms,
      p99Ms: typical.p99Ms,
      rounds: rps,
      xCeiling: ratioTo('ceiling', i),
      xPeer: ratioTo('peer', i),
      ratios: Object.fromEntries(
        REFERENCES.filter((name) => scenarios.some((s) => s.name === name)).map((name) => [name, ratioTo(name, i)]),
      ),
      serverCpuUsPerRequest: cpu.includes(null) ? null : Math.round(median(cpu as number[]) * 10) / 10,
      ...(shares.length === 0 ? {} : { answeredShare: Math.min(...shares) }),
    };
  });
}
