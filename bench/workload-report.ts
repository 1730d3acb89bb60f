import { LATE_STALE_MS } from './staleness';
import type { WorkloadResult, WorkloadRow } from './workload';

/** `count (share %)`, with enough digits that a handful of reads in 100,000 does not print as 0. */
export function share(count: number, total: number): string {
  if (count === 0 || total === 0) return `${count} (0 %)`;
  const percent = (100 * count) / total;
  return `${count} (${percent >= 1 ? percent.toFixed(1) : percent.toPrecision(2)} %)`;
}

const writesOf = (s: WorkloadResult['settings']) => s.writes ?? 'sql';

/**
 * cachegate's target (docs/contract.md §10); the peers are what it is compared with. With API writes a
 * read sent after a write answered must never be stale. A plain-SQL write reaches a cache only through
 * CDC, so a read can be stale for the CDC lag (milliseconds), never longer: none stale by > LATE_STALE_MS.
 */
function target(row: WorkloadRow, w: WorkloadResult): string {
  if (row.system !== 'cachegate') return `peer (TTL ${w.settings.ttlSeconds} s)`;
  if (writesOf(w.settings) === 'api') return `0 stale: ${row.stale === 0 ? 'met' : 'not met'}`;
  return `0 stale beyond the CDC lag (> ${LATE_STALE_MS} ms): ${row.staleLate === 0 ? 'met' : 'not met'}`;
}

const WRITES: Record<'sql' | 'api', { title: string; what: string; sourceReads: string }> = {
  sql: {
    title: 'workload (plain-SQL writes)',
    what: 'plain-SQL price writes (UPDATE straight to Postgres, as another service or a script would: only CDC sees them)',
    sourceReads: "Source reads are index scans of catalog.products in Postgres's statistics, less the writes' own.",
  },
  api: {
    title: 'workload (API writes)',
    what:
      "price writes through the system's own API (PATCH, spread over its instances; cachegate invalidates before " +
      'answering, docs/contract.md §6.5; the peers delete their entry after the UPDATE)',
    sourceReads:
      "Source reads are index scans of catalog.products in Postgres's statistics, less one per write (its " +
      "UPDATE); a write path's other reads of the row stay in (cachegate's PATCH locks the row and reads its " +
      'answer: 2 more per write).',
  },
};

/** The `workload` section of bench/results/latest.md. */
export function workloadMarkdown(w: WorkloadResult): string[] {
  const s = w.settings;
  const writes = WRITES[writesOf(s)];
  return [
    `## ${writes.title}`,
    '',
    `Zipf-distributed (s = ${s.zipfS}) reads of GET /catalog/products/:id over ${s.products} products, ` +
      `${s.writeShare * 100} % of operations ${writes.what}, ${s.concurrency} operations in flight ` +
      `(reads split evenly over each system's 2 instances), ${s.seconds} s per system, one system at a time. ` +
      'A read is stale when a write of its row had committed before the read was sent and the answer shows an ' +
      `older price; "late" counts those stale by more than ${LATE_STALE_MS} ms. ${writes.sourceReads}`,
    '',
    '| system | what | reads/s | p50 ms | p99 ms | source reads/s | per 1,000 reads | writes/s | CPU µs/read | reads after a write of their row | stale reads | stale > 100 ms | longest stale ms | target |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...w.rows.map(
      (r) =>
        `| ${r.system} | ${r.description} | ${r.readsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.sourceReadsPerSecond} | ` +
        `${r.sourceReadsPerThousand} | ${r.writesPerSecond} | ${r.serverCpuUsPerRead ?? '–'} | ${share(r.readsAfterWrite, r.reads)} | ` +
        `${share(r.stale, r.reads)} | ${share(r.staleLate, r.reads)} | ${r.maxStaleMs} | ${target(r, w)} |`,
    ),
    '',
    `![${writes.title}: reads per second, source reads per second and stale reads per system](latest-workload${writesOf(s) === 'api' ? '-api' : ''}.svg)`,
    '',
  ];
}

const COLORS: Record<string, string> = { cachegate: '#2f855a', peer: '#dd6b20', bentocache: '#b7791f' };

/** Three bar panels, one bar per system each: reads/s, source reads/s, stale reads (% of reads). */
export function workloadSvg(w: WorkloadResult): string {
  const width = 760;
  const left = 110;
  const barHeight = 24;
  const gap = 8;
  const panels: { title: string; value: (r: WorkloadRow) => number; label: (r: WorkloadRow) => string }[] = [
    {
      title: 'reads per second (higher is better)',
      value: (r) => r.readsPerSecond,
      label: (r) => `${r.readsPerSecond} reads/s · p99 ${r.p99Ms} ms`,
    },
    {
      title: 'source reads per second (Postgres index scans of the products table)',
      value: (r) => r.sourceReadsPerSecond,
      label: (r) => `${r.sourceReadsPerSecond} source reads/s · ${r.sourceReadsPerThousand} per 1,000 reads`,
    },
    {
      title: 'stale reads, % of reads (lower is better)',
      value: (r) => (r.reads === 0 ? 0 : r.stale / r.reads),
      label: (r) => `${share(r.stale, r.reads)} · &gt; ${LATE_STALE_MS} ms: ${share(r.staleLate, r.reads)}`,
    },
  ];
  const panelHeight = 30 + w.rows.length * (barHeight + gap) + 10;
  const top = 40;
  const parts: string[] = [];
  panels.forEach((panel, p) => {
    const y0 = top + p * panelHeight;
    const max = Math.max(...w.rows.map(panel.value), Number.MIN_VALUE);
    parts.push(`<text x="${left}" y="${y0 + 18}" font-size="14" font-weight="bold">${panel.title}</text>`);
    w.rows.forEach((r, i) => {
      const y = y0 + 28 + i * (barHeight + gap);
      const bar = Math.max(2, Math.round(((width - left - 320) * panel.value(r)) / max));
      parts.push(
        `<text x="${left - 10}" y="${y + barHeight / 2 + 5}" text-anchor="end" font-size="13">${r.system}</text>`,
        `<rect x="${left}" y="${y}" width="${bar}" height="${barHeight}" fill="${COLORS[r.system] ?? '#4a5568'}" rx="3"/>`,
        `<text x="${left + bar + 8}" y="${y + barHeight / 2 + 5}" font-size="12">${panel.label(r)}</text>`,
      );
    });
  });
  const s = w.settings;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + panels.length * panelHeight + 10}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="bold">workload: Zipf reads over ${s.products} products, ${s.writeShare * 100} % ${writesOf(s) === 'api' ? 'API' : 'plain-SQL'} writes, 2 instances each</text>`,
    ...parts,
    '</svg>',
  ].join('\n');
}
