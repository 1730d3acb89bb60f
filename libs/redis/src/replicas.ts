import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { isCluster } from './redis-topology';

/**
 * What a write waits for before it counts, on a Redis Cluster: `WAIT <replicas> <timeoutMs>` behind it
 * (REDIS_CLUSTER_WAIT_REPLICAS). Redis replicates asynchronously: a write its master acknowledged but no
 * replica has yet is lost when that master fails and a replica takes over (docs/contract.md §5.10).
 */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/** WAIT answered fewer replicas than asked for: the writes before it may be lost in a failover. */
export class ReplicaShortfallError extends Error {
  override readonly name = 'ReplicaShortfallError';

  constructor(acknowledged: number, wait: ReplicaWait) {
    super(
      `${acknowledged} of ${wait.replicas} replicas acknowledged the write within ${wait.timeoutMs} ms ` +
        `(REDIS_CLUSTER_WAIT_REPLICAS=${wait.replicas})`,
    );
  }
}

/** One command's outcome, as `pipeline.exec()` answers it. */
export type PipelineResult = [error: Error | null, result: unknown];

/**
 * Sends the commands `queue` puts on a pipeline, then, on a cluster with `wait.replicas` > 0, `WAIT` behind
 * them. WAIT names no key: in the same pipeline it goes to the master that took the writes, over the same
 * connection, and covers every write that connection made before it. (It holds that connection meanwhile:
 * keep `timeoutMs` short.) So the commands must be of one hash slot, as every cluster pipeline's are.
 *
 * Answers each command's [error, result] (WAIT's left out), as `exec()` does. When WAIT answers fewer
 * replicas (or fails) none of the writes counts, whichever succeeded: it rejects, with the first command's
 * error if one failed (the cause, e.g. MOVED during a failover), else with ReplicaShortfallError. On a single
 * server, or with 0 replicas, it is the pipeline alone.
 */
export async function execReplicated(
  client: Redis,
  wait: ReplicaWait,
  queue: (pipeline: ChainableCommander) => void,
): Promise<PipelineResult[]> {
  const cluster = isCluster(client);
  const pipeline = client.pipeline();
  queue(pipeline);
  const commands = pipeline.length;
  const waits = cluster && wait.replicas > 0;
  if (waits) pipeline.wait(wait.replicas, wait.timeoutMs);
  const results = ((await pipeline.exec()) ?? []) as PipelineResult[];
  // ioredis follows a MOVED in a pipeline only when every command of it failed with it; with WAIT answered
  // (by the node that refused the writes) it does not, and its slot map stays stale until the periodic
  // refresh. Refresh now: after a failover, the next attempt goes to the new master.
  if (cluster && results.some(([err]) => err && /^(MOVED|ASK) /.test(err.message))) {
    (client as unknown as Cluster).refreshSlotsCache();
  }
  if (!waits) return results;
  const [waitError, acknowledged] = results[commands];
  if (waitError || Number(acknowledged) < wait.replicas) {
    throw (
      results.slice(0, commands).find(([err]) => err)?.[0] ??
      waitError ??
      new ReplicaShortfallError(Number(acknowledged), wait)
    );
  }
  return results.slice(0, commands);
}

/** The results of a pipeline whose commands must all succeed: the first error is thrown. */
export function resultsOrThrow(results: PipelineResult[]): unknown[] {
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, result]) => result);
}
