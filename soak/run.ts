/**
 * `npm run soak [-- --duration <s>] [--chaos] [--cluster] [--quick] [--bulk-rows <n>]`: the consistency soak
 * (soak/soak.ts), on one redis-server or, with `--cluster`, a local Redis Cluster. Exit code 1 when any
 * cached view differs from the source.
 */
import { describeStale } from './compare';
import { SoakSummary, runSoak } from './soak';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function formatSummary(s: SoakSummary, runtimeMs: number): string {
  const lines = [
    `consistency soak: ${s.durationSeconds} s${s.chaos ? ', chaos' : ''}, ` +
      `${s.redis === 'cluster' ? 'Redis Cluster (3 masters + 3 replicas)' : 'one redis-server'}, ` +
      `${(runtimeMs / 1000).toFixed(1)} s in all`,
    '',
  ];
  lines.push('| write | via HTTP | via SQL | refused (4xx / conflict) |', '|---|---:|---:|---:|');
  let total = 0;
  for (const [kind, w] of Object.entries(s.writes)) {
    lines.push(`| ${kind} | ${w.http} | ${w.sql} | ${w.rejected} |`);
    total += w.http + w.sql;
  }
  lines.push('');
  lines.push(`operations: ${total} writes applied, ${s.reads} reads`);
  lines.push(`errors (5xx / failed requests): ${s.errors.length}`);
  for (const e of s.errors.slice(0, 5)) lines.push(`  ${e}`);
  for (const e of s.chaosEvents) lines.push(`chaos at ${e}`);
  for (const f of s.failovers) {
    lines.push(
      `failover at ${f.atSeconds} s: ${f.kind === 'graceful' ? 'CLUSTER FAILOVER' : 'SIGKILL'} of master ${f.master} ` +
        `(${f.what}), replica ${f.promoted} serving after ${f.settledMs} ms` +
        (f.rejoinedMs === undefined ? '' : `, ${f.master} back as its replica ${f.rejoinedMs} ms after the restart`),
    );
  }
  if (s.chaos && s.redis === 'cluster') {
    lines.push('partition: not run on a cluster (a proxy cannot stand between one instance and the whole cluster)');
  }
  if (s.partition) {
    const p = s.partition;
    lines.push(
      `partition: bff-b's Redis connections held ${p.heldMs} ms; /health redis down after ${p.detectedMs} ms, ` +
        `up with L1 on ${p.recoveredMs} ms after the release`,
    );
  }
  if (s.eviction) {
    const e = s.eviction;
    lines.push(
      `eviction: maxmemory ${e.maxmemory}${e.byMaster.length > 1 ? ' per node' : ''} (volatile-lru), ` +
        `${(e.usedBeforeBytes / 1024 / 1024).toFixed(1)} MiB used and ${e.volatileBefore} names with a TTL before; ` +
        `${e.fillers} fillers written, ${e.evicted} names evicted (${e.evictedCacheNames} of the cache's, ${e.evictedFillers} fillers)` +
        (e.byMaster.length > 1 ? `; by master: ${e.byMaster.map((m) => `${m.port} ${m.evicted}`).join(', ')}` : ''),
    );
  }
  if (s.bulk) {
    lines.push(
      `bulk: one INSERT of ${s.bulk.inserted} products, ${s.bulk.warmed} views cached on both instances, ` +
        `then one UPDATE of ${s.bulk.updated} products`,
    );
  }
  lines.push(`CDC settled ${s.settleMs} ms after the writes stopped`);
  for (const [stream, lag] of Object.entries(s.misreportedLag)) {
    lines.push(
      `/health/cdc misreports ${stream}: lag ${lag} with every entry delivered and acknowledged ` +
        "(a promoted replica's stale entries-read, redis/redis#12898)",
    );
  }
  lines.push(`entries compared: ${s.compared}`);
  lines.push(`stale entries: ${s.stale}`);
  for (const d of s.differences) lines.push(describeStale(d));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const durationSeconds = Number(option('--duration') ?? (quick ? 10 : 60));
  if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) throw new Error('--duration takes seconds > 0');
  const started = Date.now();
  const summary = await runSoak({
    durationSeconds,
    bulkRows: Number(option('--bulk-rows') ?? (quick ? 2000 : 20_000)),
    chaos: process.argv.includes('--chaos'),
    cluster: process.argv.includes('--cluster'),
    log: (message) => process.stdout.write(`▸ ${message}\n`),
  });
  process.stdout.write(`\n${formatSummary(summary, Date.now() - started)}\n`);
  if (summary.stale > 0) process.exit(1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
