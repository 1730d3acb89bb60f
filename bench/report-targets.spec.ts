import { BenchReport, renderMarkdown } from './report';
import { Round, summarise } from './throughput';

const round = (requestsPerSecond: number): Round => ({
  requests: requestsPerSecond * 4,
  requestsPerSecond,
  p50Ms: 1,
  p99Ms: 3,
  errors: 0,
  non2xx: 0,
  cpuUsPerRequest: 20,
});

function report(rps: Record<string, number>, generator?: 'wrk' | 'autocannon'): BenchReport {
  const names = Object.keys(rps);
  return {
    startedAt: '2026-12-03T00:00:00.000Z',
    quick: false,
    machine: { node: 'v20', cpus: 2 },
    settings: {
      connections: 50,
      rounds: 1,
      roundSeconds: 4,
      warmupSeconds: 3,
      writesPerSecond: 500,
      lagSeconds: 10,
      generator,
    },
    throughput: summarise(
      names.map((name) => ({ name, description: name })),
      names.map((name) => [round(rps[name])]),
    ),
    invalidationLag: { writes: 1, observed: 1, lost: 0, clientMs: { p50: 1, p99: 2, max: 3 }, serverMs: {} },
    coalescing: { requests: 1000, instances: 2, sourceReads: 1 },
  };
}

const row = (markdown: string, scenario: string) => markdown.split('\n').find((l) => l.startsWith(`| ${scenario} |`));

describe('bench report: SPEC §10 targets and the load generator', () => {
  it('judges l1-hit against hook-floor (0.8) and l2-hit against peer (1.4), with the ratio columns', () => {
    const met = renderMarkdown(
      report({
        fastify: 40_000,
        'hook-floor': 40_000,
        ceiling: 30_000,
        'l1-hit': 32_000,
        'l2-hit': 28_000,
        peer: 20_000,
      }),
    );
    expect(row(met, 'l1-hit')).toContain('| 0.80 | 0.80 | 1.07 | 1.60 |');
    expect(row(met, 'l1-hit')).toContain('≥ 0.8 × hook-floor: met');
    expect(row(met, 'l2-hit')).toContain('≥ 1.4 × peer: met');

    const missed = renderMarkdown(
      report({ 'hook-floor': 40_000, ceiling: 30_000, 'l1-hit': 31_000, 'l2-hit': 27_000, peer: 20_000 }),
    );
    expect(row(missed, 'l1-hit')).toContain('≥ 0.8 × hook-floor: not met');
    expect(row(missed, 'l2-hit')).toContain('≥ 1.4 × peer: not met');
  });

  it('judges l2-hit against bentocache too when the run has it, and says when a reference is missing', () => {
    const withBento = renderMarkdown(report({ 'l1-hit': 1, 'l2-hit': 28_000, peer: 20_000, bentocache: 21_000 }));
    expect(row(withBento, 'l2-hit')).toContain('≥ 1.4 × peer: met; ≥ 1.4 × bentocache: not met');
    expect(row(withBento, 'l2-hit')).toContain('| 1.40 | 1.33 |'); // × peer, × bentocache
    expect(row(withBento, 'l1-hit')).toContain('≥ 0.8 × hook-floor: no reference in this run');
  });

  it('does not judge a cachegate scenario whose rounds were not all answered as it is named', () => {
    const r = report({ 'hook-floor': 40_000, 'l1-hit': 39_000 });
    r.throughput!.find((t) => t.scenario === 'l1-hit')!.answeredShare = 0.62;
    expect(row(renderMarkdown(r), 'l1-hit')).toContain(
      "not measured: only 62.0 % of a round's reads were answered as l1-hit",
    );
    r.throughput!.find((t) => t.scenario === 'l1-hit')!.answeredShare = 1.001;
    expect(row(renderMarkdown(r), 'l1-hit')).toContain('≥ 0.8 × hook-floor: met');
  });

  it('says which load generator ran, and marks autocannon as the fallback', () => {
    expect(renderMarkdown(report({ peer: 1 }, 'wrk'))).toContain('load generator wrk\n');
    expect(renderMarkdown(report({ peer: 1 }, 'autocannon'))).toContain(
      'load generator autocannon (fallback: wrk not installed)',
    );
  });
});
