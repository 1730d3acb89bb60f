import { availableGenerator } from './load';

/**
 * How hard the throughput scenarios and the lag writer push, shared by `npm run bench` (run.ts) and
 * bench/cluster.ts so their figures compare: `--quick` (CI) keeps each part to a couple of seconds.
 */
export function loadSettings(quick: boolean) {
  return {
    connections: quick ? 20 : 50,
    rounds: quick ? 1 : 9,
    roundSeconds: quick ? 2 : 4,
    warmupSeconds: quick ? 1 : 3,
    writesPerSecond: 500,
    /** wrk where installed (apt-get install wrk), else autocannon: the report says which ran. */
    generator: availableGenerator(),
  };
}
