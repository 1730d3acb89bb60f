import { BenchReport, renderMarkdown } from './report';
import { StaleTally } from './staleness';
import { workloadRow, WorkloadResult } from './workload';
import { share, workloadMarkdown, workloadSvg } from './workload-report';

function tally(reads: number, afterWrite: number, staleMs: number[]): StaleTally {
  const t = new StaleTally();
  for (const ms of staleMs) t.add({ afterWrite: true, staleMs: ms });
  for (let i = staleMs.length; i < afterWrite; i++) t.add({ afterWrite: true, staleMs: null });
  for (let i = afterWrite; i < reads; i++) t.add({ afterWrite: false, staleMs: null });
  return t;
}

const run = (reads: number, staleMs: number[], indexScans: number) => ({
  instances: 2,
  seconds: 4,
  writes: 400,
  latenciesMs: [1, 2, 3, 4, 50],
  tally: tally(reads, 5000, staleMs),
  indexScans,
  cpuMicros: reads * 30,
});

const result: WorkloadResult = {
  settings: { products: 100_000, zipfS: 1, seconds: 4, concurrency: 32, writeShare: 0.01, ttlSeconds: 60, seed: 16 },
  rows: [
    workloadRow({ name: 'cachegate', description: 'the BFF' }, run(40_000, [1.5, 4], 8400)),
    workloadRow({ name: 'peer', description: 'cache-manager' }, run(20_000, [50, 3000, 45_000], 2400)),
    workloadRow({ name: 'bentocache', description: 'bentocache' }, run(10_000, [], 1400)),
  ],
};

describe('workloadRow', () => {
  it('takes source reads as the index scans less the writes, and rates over the measured time', () => {
    const [cachegate] = result.rows;
    expect(cachegate).toMatchObject({
      reads: 40_000,
      writes: 400,
      readsPerSecond: 10_000,
      writesPerSecond: 100,
      sourceReads: 8000,
      sourceReadsPerSecond: 2000,
      sourceReadsPerThousand: 200,
      p50Ms: 3,
      p99Ms: 50,
      serverCpuUsPerRead: 30,
      readsAfterWrite: 5000,
      stale: 2,
      staleLate: 0,
      maxStaleMs: 4,
    });
  });

  it('has no CPU figure when the instances could not be read (no /proc)', () => {
    expect(
      workloadRow({ name: 'x', description: 'x' }, { ...run(10, [], 0), cpuMicros: null }).serverCpuUsPerRead,
    ).toBe(null);
  });
});

describe('workload report', () => {
  const row = (markdown: string, system: string) => markdown.split('\n').find((l) => l.startsWith(`| ${system} |`));

  it('prints counts with their share of reads, a few in many not as 0', () => {
    expect(share(0, 1000)).toBe('0 (0 %)');
    expect(share(2, 40_000)).toBe('2 (0.0050 %)');
    expect(share(3, 20_000)).toBe('3 (0.015 %)');
    expect(share(250, 1000)).toBe('250 (25.0 %)');
  });

  it('has one row per system: rates, latency, source reads, stale reads; cachegate judged against 0 stale beyond the lag (SQL writes)', () => {
    const markdown = workloadMarkdown(result).join('\n');
    expect(markdown).toContain('## workload (plain-SQL writes)');
    expect(row(markdown, 'cachegate')).toBe(
      '| cachegate | the BFF | 10000 | 3 | 50 | 2000 | 200 | 100 | 30 | 5000 (12.5 %) | 2 (0.0050 %) | 0 (0 %) | 4 | 0 stale beyond the CDC lag (> 100 ms): met |',
    );
    const late = { ...result, rows: [{ ...result.rows[0], staleLate: 1 }] };
    expect(row(workloadMarkdown(late).join('\n'), 'cachegate')).toContain('(> 100 ms): not met');
    expect(row(markdown, 'peer')).toContain('| 3 (0.015 %) | 2 (0.010 %) | 45000 | peer (TTL 60 s) |');
    expect(row(markdown, 'bentocache')).toContain('| 0 (0 %) | 0 (0 %) | 0 | peer (TTL 60 s) |');
  });

  it('judges cachegate against 0 stale reads when the writes go through the API', () => {
    const api = { ...result, settings: { ...result.settings, writes: 'api' as const } };
    const markdown = workloadMarkdown(api).join('\n');
    expect(markdown).toContain('## workload (API writes)');
    expect(markdown).toContain('](latest-workload-api.svg)');
    expect(row(markdown, 'cachegate')).toContain('| 4 | 0 stale: not met |');
    const clean = { ...api, rows: [{ ...api.rows[0], stale: 0, staleLate: 0, maxStaleMs: 0 }] };
    expect(row(workloadMarkdown(clean).join('\n'), 'cachegate')).toContain('0 stale: met');
  });

  it('is a section of the bench report, alone when the run measured only the workload', () => {
    const report: BenchReport = {
      startedAt: '2026-12-04T00:00:00.000Z',
      quick: true,
      machine: { node: 'v20', cpus: 2 },
      settings: { connections: 20, rounds: 1, roundSeconds: 2, warmupSeconds: 1, writesPerSecond: 500, lagSeconds: 2 },
      workload: result,
    };
    const markdown = renderMarkdown(report);
    expect(markdown).toContain('## workload');
    expect(markdown).toContain('](latest-workload.svg)');
    expect(markdown).not.toContain('| scenario |');
    expect(markdown).not.toContain('| measurement |');
  });

  it('charts reads/s, source reads/s and stale reads, one bar per system in each', () => {
    const svg = workloadSvg(result);
    expect(svg.match(/<rect x="110"/g)).toHaveLength(9);
    expect(svg).toContain('10000 reads/s · p99 50 ms');
    expect(svg).toContain('2000 source reads/s · 200 per 1,000 reads');
    expect(svg).toContain('3 (0.015 %) · &gt; 100 ms: 2 (0.010 %)');
  });
});
