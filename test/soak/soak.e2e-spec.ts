import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BFF_ENTRY, CACHE_SYNC_ENTRY, ROOT } from '../../bench/servers';
import { describeStale } from '../../soak/compare';
import { runSoak } from '../../soak/soak';
import { WRITE_KINDS } from '../../soak/workload';

/**
 * A short `npm run soak` (docs/contract.md §9, guarantee 2) against dist builds of the BFF
 * and cache-sync, built here when missing so `npm test` works on a fresh clone.
 */
describe('consistency soak (short run)', () => {
  beforeAll(() => {
    for (const [app, main] of [
      ['bff', BFF_ENTRY],
      ['cache-sync', CACHE_SYNC_ENTRY],
    ]) {
      if (!existsSync(path.join(ROOT, main)))
        execFileSync('npx', ['nest', 'build', app], { cwd: ROOT, stdio: 'inherit' });
    }
  }, 180_000);

  it('leaves no stale entry after 10 s of mixed writes, a hung partition, eviction, a cache-sync crash and a Redis restart', async () => {
    const summary = await runSoak({ durationSeconds: 10, chaos: true });
    expect(summary.differences.map(describeStale)).toEqual([]);
    expect(summary.stale).toBe(0);
    expect(summary.compared).toBeGreaterThan(200);
    expect(summary.errors).toEqual([]);
    // partition: held, seen down, released, seen up; eviction: start, full, fillers deleted; crash: 2; restart: 2.
    expect(summary.chaosEvents).toHaveLength(11);
    // bff-b's /health saw the hang (the proxy releases only after that) and came back with L1 on.
    expect(summary.partition).toEqual({
      heldMs: expect.any(Number),
      detectedMs: expect.any(Number),
      recoveredMs: expect.any(Number),
    });
    // Redis evicted what the phase waited for, and some of the cache's own names among them, not only fillers.
    expect(summary.eviction?.evicted).toBeGreaterThanOrEqual(1000);
    // The bulk phase: one statement's 2,000 inserted products, views of them cached, every product updated at once.
    expect(summary.bulk).toEqual({ inserted: 2000, warmed: expect.any(Number), updated: expect.any(Number) });
    expect(summary.bulk!.updated).toBeGreaterThan(2000);
    expect(summary.eviction?.evictedCacheNames).toBeGreaterThan(0);
    expect(summary.reads).toBeGreaterThan(0);
    for (const kind of WRITE_KINDS) {
      const { http, sql } = summary.writes[kind];
      expect({ kind, http: http > 0, sql: sql > 0 }).toEqual({ kind, http: true, sql: true });
    }
  }, 90_000);

  it('leaves no stale entry on a Redis Cluster through a graceful failover and a SIGKILL of a master, eviction on every master and a cache-sync crash', async () => {
    // A small bulk phase: the run above has the large one, and comparing its views would double this run's time.
    const summary = await runSoak({ durationSeconds: 10, chaos: true, cluster: true, bulkRows: 200 });
    expect(summary.differences.map(describeStale)).toEqual([]);
    expect(summary.stale).toBe(0);
    expect(summary.redis).toBe('cluster');
    expect(summary.compared).toBeGreaterThan(200);
    expect(summary.errors).toEqual([]);
    // The master of the catalog's fence slot handed over gracefully, the catalog stream's master was killed and
    // came back as a replica; each took effect (its replica serving its slots).
    expect(summary.failovers.map((f) => [f.kind, f.what])).toEqual([
      ['graceful', 'the catalog fence slot'],
      ['sigkill', 'the catalog stream'],
    ]);
    for (const f of summary.failovers) expect(f.promoted).not.toBe(f.master);
    expect(summary.failovers[1].rejoinedMs).toEqual(expect.any(Number));
    // No partition phase on a cluster; memory pressure made every master evict.
    expect(summary.partition).toBeUndefined();
    expect(summary.eviction?.evicted).toBeGreaterThanOrEqual(1000);
    expect(summary.eviction?.byMaster).toHaveLength(3);
    for (const master of summary.eviction!.byMaster) expect(master.evicted).toBeGreaterThan(0);
    expect(summary.bulk).toEqual({ inserted: 200, warmed: expect.any(Number), updated: expect.any(Number) });
    for (const kind of WRITE_KINDS) {
      const { http, sql } = summary.writes[kind];
      expect({ kind, http: http > 0, sql: sql > 0 }).toEqual({ kind, http: true, sql: true });
    }
  }, 120_000);

  it('reports a change that raised no CDC event as stale (the soak can fail)', async () => {
    // No bulk phase: its UPDATE's events, still draining, would drop the sabotaged entry too.
    const summary = await runSoak({ durationSeconds: 2, chaos: false, sabotage: true, bulkRows: 0 });
    // The sabotaged product on both cached instances; its listing may be cached too.
    expect(summary.stale).toBeGreaterThanOrEqual(2);
    expect(summary.differences.map((d) => d.instance)).toEqual(expect.arrayContaining(['bff-a', 'bff-b']));
    expect(describeStale(summary.differences[0])).toContain('(no event)');
  }, 60_000);
});
