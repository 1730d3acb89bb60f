export {
  ClientOptions,
  createRedisClient,
  describeTopology,
  isCluster,
  masterConnections,
  parseClusterNodes,
  redisTopology,
  RedisTopology,
} from './redis-topology';
export { calculateSlot, groupBySlot } from './slots';
export { execReplicated, PipelineResult, ReplicaShortfallError, ReplicaWait, resultsOrThrow } from './replicas';
export { reconnectIfHung } from './hung-connection';
