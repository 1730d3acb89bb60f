import { ConfigService } from '@nestjs/config';
import { RedisTopology, redisTopology, ReplicaWait } from '@app/redis';
import type { EnvironmentVariables } from '@app/config';

/**
 * How long a CDC write (a publish, a dead letter, a redrive) waits for its replicas on a cluster. WAIT holds
 * the client's connection to that master meanwhile; a relay page is up to 5,000 events, which a replica
 * normally has within milliseconds. Below the publisher's 2 s command timeout, so a WAIT that times out
 * answers how many replicas it got rather than being cut off.
 */
export const CDC_REPLICA_WAIT_MS = 1000;

/** Where the CDC streams live, and what their writes wait for before they count (docs/contract.md §5.10). */
export interface CdcRedis {
  topology: RedisTopology;
  /** REDIS_CLUSTER_WAIT_REPLICAS; only a cluster WAITs. */
  replicas: ReplicaWait;
}

export function cdcRedis(config: ConfigService<EnvironmentVariables, true>): CdcRedis {
  return {
    topology: redisTopology(config),
    replicas: { replicas: config.get('REDIS_CLUSTER_WAIT_REPLICAS'), timeoutMs: CDC_REPLICA_WAIT_MS },
  };
}
