import type { RedisCluster } from '../tools/redis-cluster';

export type FailoverKind = 'graceful' | 'sigkill';

/** A master the soak fails over: the one that serves `key` when the failover starts. */
export interface FailoverTarget {
  /** What the master holds, for the report: "the catalog fence slot". */
  what: string;
  key: string;
}

/** One failover of a master, as the summary lists it. */
export interface FailoverEvent {
  kind: FailoverKind;
  what: string;
  /** The master's port, and the port of its replica that took over. */
  master: number;
  promoted: number;
  /** Seconds into the run when it began. */
  atSeconds: number;
  /** From `CLUSTER FAILOVER` (or the SIGKILL) until the cluster had settled with the replica serving the slots. */
  settledMs: number;
  /** `sigkill`: from the restart until the old master had rejoined as the new master's replica, in sync. */
  rejoinedMs?: number;
}

/**
 * Fails over the master that serves `target.key`: `graceful` is a `CLUSTER FAILOVER` on its replica (the
 * master hands over, nothing is lost); `sigkill` kills it (what it had acknowledged and not yet replicated
 * is lost; the replica is elected after the node timeout), then restarts it, so that it rejoins as a
 * replica and its slots have a replica again (the cache's fence writes and the relay's appends WAIT for one).
 */
export async function failOver(
  cluster: RedisCluster,
  target: FailoverTarget,
  kind: FailoverKind,
  startedAt: number,
  event: (message: string) => void,
): Promise<FailoverEvent> {
  const master = await cluster.masterOf(target.key);
  const replica = await cluster.replicaOf(master);
  const began = Date.now();
  const atSeconds = Number(((began - startedAt) / 1000).toFixed(1));
  if (kind === 'graceful') {
    event(`CLUSTER FAILOVER on ${replica.port}, the replica of master ${master.port} (${target.what})`);
    await cluster.failover(master);
    const settledMs = Date.now() - began;
    event(`${replica.port} serves ${target.what}, ${master.port} its replica (settled after ${settledMs} ms)`);
    return { kind, what: target.what, master: master.port, promoted: replica.port, atSeconds, settledMs };
  }
  event(`kill -9 master ${master.port} (${target.what})`);
  await cluster.kill(master);
  const settledMs = Date.now() - began;
  event(
    `${replica.port} elected in place of ${master.port} (settled after ${settledMs} ms); restarting ${master.port}`,
  );
  const restarted = Date.now();
  await cluster.restart(master);
  const rejoinedMs = Date.now() - restarted;
  event(`${master.port} rejoined as the replica of ${replica.port}, in sync (${rejoinedMs} ms)`);
  return { kind, what: target.what, master: master.port, promoted: replica.port, atSeconds, settledMs, rejoinedMs };
}
