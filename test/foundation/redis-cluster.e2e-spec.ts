import { Cluster } from 'ioredis';
import { ClusterNode, RedisCluster } from '../../tools/redis-cluster';

/**
 * The cluster harness (tools/redis-cluster.ts) on its own, with the client cachegate runs on a cluster: a real
 * 3 masters + 3 replicas cluster, one ioredis `Cluster` kept open through a graceful failover, a SIGKILL of a
 * master and that master's return. Each step resolves only once the cluster has settled, and the same client
 * must then read and write every key again: it follows the MOVED it gets, or refreshes its slots when a
 * node's connection drops.
 */

/** A SIGKILL's failover: the node timeout (1 s), the replica's election (< 1 s), room for a loaded machine. */
const KILL_FAILOVER_BUDGET_MS = 10_000;

describe('Redis Cluster harness', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  /** Spread over the slots, so every master serves some. */
  const keys = Array.from({ length: 48 }, (_, i) => `harness:${i}`);
  const key = keys[0];
  const value = (k: string, round: string) => `${k}=${round}`;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = new Cluster(cluster.startupNodes);
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  /** Writes every key through the client; with `replicated`, also waits until each master's replica has it. */
  async function writeAll(round: string, { replicated = false } = {}): Promise<void> {
    await Promise.all(
      keys.map(async (k) => {
        if (!replicated) return expect(await client.set(k, value(k, round))).toBe('OK');
        // WAIT names no key: in the same pipeline as the write, it goes to the master that took the write.
        // It blocks that master's one connection of the client until the replica acknowledged (or the timeout).
        expect(await client.pipeline().set(k, value(k, round)).wait(1, 5000).exec()).toEqual([
          [null, 'OK'],
          [null, 1],
        ]);
      }),
    );
  }

  async function readAll(): Promise<string[]> {
    return Promise.all(keys.map((k) => client.get(k) as Promise<string>));
  }

  const expected = (round: string) => keys.map((k) => value(k, round));

  it('starts 3 masters serving all 16384 slots, each with an in-sync replica', async () => {
    const masters = await cluster.masters();
    const replicas = await cluster.replicas();
    expect(masters).toHaveLength(3);
    expect(replicas.map((r) => r.masterId).sort()).toEqual(masters.map((m) => m.id).sort());
    const slots = masters.flatMap((m) => m.slots).reduce((sum, [from, to]) => sum + to - from + 1, 0);
    expect(slots).toBe(16384);
    expect(cluster.nodeList).toMatch(/^(127\.0\.0\.1:\d+,){5}127\.0\.0\.1:\d+$/);
  });

  it('writes and reads keys of every master through one ioredis Cluster', async () => {
    await writeAll('start');
    expect(await readAll()).toEqual(expected('start'));
    const owners = new Set<string>();
    for (const k of keys.slice(0, 12)) owners.add((await cluster.masterOf(k)).id);
    expect(owners.size).toBe(3);
  });

  it('graceful failover: the replica takes over, nothing is lost, the same client reads and writes on', async () => {
    const master = await cluster.masterOf(key);
    const replica = await cluster.replicaOf(master);
    await cluster.failover(master, { mode: 'graceful' });

    expect(await cluster.masterOf(key)).toMatchObject({ id: replica.id, slots: master.slots });
    expect(await cluster.replicaOf(await cluster.masterOf(key))).toMatchObject({ id: master.id });
    // A graceful failover waits for the replica to have every write: no WAIT was needed for these.
    expect(await readAll()).toEqual(expected('start'));
    await writeAll('after-graceful');
    expect(await readAll()).toEqual(expected('after-graceful'));
  });

  let killed: ClusterNode;

  it('SIGKILL of a master: its replica is elected, replicated writes survive, the same client goes on', async () => {
    await writeAll('before-kill', { replicated: true });
    killed = await cluster.masterOf(key);
    const replica = await cluster.replicaOf(killed);

    const started = Date.now();
    await cluster.kill(killed);
    expect(Date.now() - started).toBeLessThan(KILL_FAILOVER_BUDGET_MS);

    expect(await cluster.masterOf(key)).toMatchObject({ id: replica.id, slots: killed.slots });
    expect((await cluster.nodes()).find((n) => n.id === killed.id)).toMatchObject({ failing: true, slots: [] });
    expect(await readAll()).toEqual(expected('before-kill'));
    await writeAll('after-kill');
    expect(await readAll()).toEqual(expected('after-kill'));
  });

  it('a killed master restarted on its port rejoins as a replica of the one that replaced it', async () => {
    await cluster.restart(killed);

    const master = await cluster.masterOf(key);
    expect(await cluster.replicaOf(master)).toMatchObject({ id: killed.id, port: killed.port });
    expect(await cluster.masters()).toHaveLength(3);
    expect(await cluster.replicas()).toHaveLength(3);
    await writeAll('after-restart', { replicated: true });
    expect(await readAll()).toEqual(expected('after-restart'));
  });
});
