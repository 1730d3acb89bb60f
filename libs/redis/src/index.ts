export {
  ClientOptions,
  createRedisClient,
  isCluster,
  masterConnections,
  parseClusterNodes,
  redisTopology,
  RedisTopology,
} from './redis-topology';
export { calculateSlot, groupBySlot } from './slots';
