import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BulkResult } from './bulk';
import type { LoadGenerator } from './load';
import type { ThroughputRow } from './throughput';
import { workloadMarkdown, workloadSvg } from './workload-report';
import type { WorkloadResult } from './workload';

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  machine: { node: string; cpus: number };
  settings: {
    connections: number;
    rounds: number;
    roundSeconds: number;
    warmupSeconds: number;
    writesPerSecond: number;
    lagSeconds: number;
    /** Absent in reports written before wrk: autocannon. */
    generator?: LoadGenerator;
  };
  /** Each section is absent when the run left its scenarios out (`--only`). */
  throughput?: ThroughputRow[];
  invalidationLag?: {
    writes: number;
    observed: number;
    lost: number;
    clientMs: { p50: number; p99: number; max: number };
    serverMs: Record<string, { p50: number | null; p99: number | null; max: number | null }>;
  };
  coalescing?: { requests: number; instances: number; sourceReads: number };
  /** Absent in reports written before the bulk scenario. */
  bulk?: BulkResult;
  /** Absent in reports written before the workload scenario. */
  workload?: WorkloadResult;
  /** The workload with writes through each system's API (absent in older reports). */
  workloadApi?: WorkloadResult;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
/** A ratio target; a reference missing from the run (or an old report) cannot be judged. */
const met = (ratio: number | undefined, target: number) =>
  ratio === undefined || !Number.isFinite(ratio) ? 'no reference in this run' : ratio >= target ? 'met' : 'not met';

/**
 * The report (docs/contract.md §10): one throughput table of every scenario of the same run, with ratios to the
 * references, the measurement table (lag, coalescing, bulk) and the workload table.
 */
export function renderMarkdown(r: BenchReport): string {
  const s = r.settings;
  return [
    `# cachegate benchmark${r.quick ? ' (quick run: not for comparison)' : ''}`,
    '',
    `${r.startedAt} · node ${r.machine.node} · ${r.machine.cpus} cores · ${s.connections} connections · ` +
      `${s.rounds} interleaved round(s) of ${s.roundSeconds} s per scenario · load generator ` +
      (s.generator === 'wrk' ? 'wrk' : 'autocannon (fallback: wrk not installed)'),
    '',
    ...(r.throughput ? throughputTable(r.throughput) : []),
    ...measurementTable(r),
    ...(r.workload ? workloadMarkdown(r.workload) : []),
    ...(r.workloadApi ? workloadMarkdown(r.workloadApi) : []),
  ].join('\n');
}

/**
 * A cachegate scenario counts only if every round was answered the way it is named (Scenario.answeredBy; the
 * counters also see the bench's own probe requests, so the share may pass 1 slightly).
 */
const answeredAsNamed = (t: ThroughputRow, judged: string) =>
  t.answeredShare === undefined || t.answeredShare >= 0.99
    ? judged
    : `not measured: only ${(t.answeredShare * 100).toFixed(1)} % of a round's reads were answered as ${t.scenario}`;

const TARGETS: Record<string, (t: ThroughputRow) => string> = {
  fastify: () => 'reference',
  'hook-floor': () => 'the limit of the early-hit design',
  ceiling: () => 'reference (1.00)',
  'l1-hit': (t) => answeredAsNamed(t, `≥ 0.8 × hook-floor: ${met(t.ratios?.['hook-floor'], 0.8)}`),
  'l2-hit': (t) =>
    answeredAsNamed(
      t,
      `≥ 1.4 × peer: ${met(t.xPeer, 1.4)}` +
        (t.ratios?.bentocache === undefined ? '' : `; ≥ 1.4 × bentocache: ${met(t.ratios.bentocache, 1.4)}`),
    ),
  bentocache: () => 'second peer',
  peer: () => 'reference',
  miss: () => 'shows what the cache saves',
};

function throughputTable(rows: ThroughputRow[]): string[] {
  return [
    'req/s, p50 and p99 are those of the median round; the × columns are the medians of the ratios ' +
      "taken within each round; CPU is the server process's own time per request.",
    '',
    '| scenario | what | req/s | p50 ms | p99 ms | × hook-floor | × fastify | × ceiling | × peer | × bentocache | CPU µs/req | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (t) =>
        `| ${t.scenario} | ${t.description} | ${t.requestsPerSecond} | ${t.p50Ms} | ${t.p99Ms} | ` +
        `${fmt(t.ratios?.['hook-floor'] ?? NaN)} | ${fmt(t.ratios?.fastify ?? NaN)} | ${fmt(t.xCeiling)} | ` +
        `${fmt(t.xPeer)} | ${fmt(t.ratios?.bentocache ?? NaN)} | ${t.serverCpuUsPerRequest ?? '–'} | ` +
        `${TARGETS[t.scenario]?.(t) ?? ''} |`,
    ),
    '',
    '![requests per second and latency per scenario](latest.svg)',
    '',
  ];
}

/** Invalidation lag, coalescing and bulk, those of them the run measured. */
function measurementTable(r: BenchReport): string[] {
  const lag = r.invalidationLag;
  const rows = [
    ...(lag
      ? [
          `| invalidation lag, commit → key gone (L2 + every L1), ${r.settings.writesPerSecond} writes/s | p50 ${fmt(lag.clientMs.p50, 1)} ms, p99 ${fmt(lag.clientMs.p99, 1)} ms, max ${fmt(lag.clientMs.max, 1)} ms over ${lag.observed} of ${lag.writes} writes (${lag.lost} lost) | p50 ≤ 5 ms, p99 ≤ 20 ms: ${lag.clientMs.p50 <= 5 && lag.clientMs.p99 <= 20 ? 'met' : 'not met'} |`,
          ...Object.entries(lag.serverMs).map(
            ([instance, s]) =>
              `| server-side lag (${instance}, event occurredAt → L2 deleted) | p50 ${s.p50 ?? '–'} ms, p99 ${s.p99 ?? '–'} ms, max ${s.max ?? '–'} ms | |`,
          ),
        ]
      : []),
    ...(r.coalescing
      ? [
          `| coalescing: ${r.coalescing.requests} concurrent cold reads of one key over ${r.coalescing.instances} instances | ${r.coalescing.sourceReads} source read(s) | 1: ${r.coalescing.sourceReads === 1 ? 'met' : 'not met'} |`,
        ]
      : []),
    ...(r.bulk ? bulkRows(r.bulk, r.settings.writesPerSecond) : []),
  ];
  return rows.length === 0 ? [] : ['| measurement | result | target |', '|---|---|---|', ...rows, ''];
}

/** The `bulk` scenario's rows of the measurement table. */
function bulkRows(b: BulkResult, writesPerSecond: number): string[] {
  const lag = (p: { p50: number; p99: number }) => `p50 ${fmt(p.p50, 1)} ms, p99 ${fmt(p.p99, 1)} ms`;
  const { drain, after } = b.singleRowMs;
  // Fairness (issue 13): a bulk may hold single-row changes back for as long as it takes itself, not longer.
  const fair = Math.max(b.singleRowMs.statement.max, drain.max) <= b.statementMs + b.commitToGoneMs + 20;
  const left = b.leftCached.l2 + b.leftCached.hits;
  return [
    `| bulk: one UPDATE of ${b.rows} cached products (every listing and ${b.warmed.products} products cached on ${b.instances} instances), commit → last affected key gone (L2 + every L1) | ${b.commitToGoneMs} ms, ${b.eventsPerSecond} events/s (statement ${b.statementMs} ms; relay done ${b.relayMs} ms after the last capture); ${left} stale copies left | ≤ 3 s for 100,000 (≥ 33,000 events/s): ${b.eventsPerSecond >= 33_000 && left === 0 ? 'met' : 'not met'} |`,
    `| single-row lag (${writesPerSecond} writes/s) before / while the statement runs / while the bulk drains / right after | ${lag(b.singleRowMs.before)} / ${lag(b.singleRowMs.statement)} / ${lag(drain)} / ${lag(after)} | while: none waits longer than the bulk's own sent → gone + 20 ms: ${fair ? 'met' : 'not met'}; after: p50 ≤ 5 ms, p99 ≤ 20 ms: ${after.p50 <= 5 && after.p99 <= 20 ? 'met' : 'not met'} |`,
  ];
}

/** A bar chart of requests/s per scenario, with p50/p99 latency printed on each bar. */
export function renderSvg(r: BenchReport): string {
  const throughput = r.throughput ?? [];
  const width = 760;
  const barHeight = 34;
  const gap = 14;
  const left = 110;
  const top = 40;
  const max = Math.max(...throughput.map((t) => t.requestsPerSecond), 1);
  const height = top + throughput.length * (barHeight + gap) + 20;
  const colors: Record<string, string> = {
    fastify: '#b8c2cc',
    'hook-floor': '#718096',
    ceiling: '#9aa5b1',
    'l1-hit': '#2f855a',
    'l2-hit': '#38a169',
    peer: '#dd6b20',
    bentocache: '#b7791f',
    miss: '#c53030',
  };
  const bars = throughput.map((t, i) => {
    const y = top + i * (barHeight + gap);
    const w = Math.max(2, Math.round(((width - left - 190) * t.requestsPerSecond) / max));
    return [
      `<text x="${left - 10}" y="${y + barHeight / 2 + 5}" text-anchor="end" font-size="14">${t.scenario}</text>`,
      `<rect x="${left}" y="${y}" width="${w}" height="${barHeight}" fill="${colors[t.scenario] ?? '#4a5568'}" rx="3"/>`,
      `<text x="${left + w + 8}" y="${y + barHeight / 2 + 5}" font-size="13">${t.requestsPerSecond} req/s · p50 ${t.p50Ms} ms · p99 ${t.p99Ms} ms</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="bold">GET /catalog/products/:id — requests per second (same run)</text>`,
    ...bars,
    '</svg>',
  ].join('\n');
}

export function writeReport(r: BenchReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const markdown = renderMarkdown(r);
  writeFileSync(path.join(dir, 'latest.md'), markdown);
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(path.join(dir, 'latest.svg'), renderSvg(r));
  if (r.workload) writeFileSync(path.join(dir, 'latest-workload.svg'), workloadSvg(r.workload));
  if (r.workloadApi) writeFileSync(path.join(dir, 'latest-workload-api.svg'), workloadSvg(r.workloadApi));
  return markdown;
}
