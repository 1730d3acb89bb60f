import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { eventually } from './eventually';
import { freePort } from './free-port';
import { RedisServer } from './redis-server';

const HOST = '127.0.0.1';
const SLOT_COUNT = 16384;

/** The temporary directories of every cluster this worker started, so a failed test cannot leave one behind. */
const directories = new Set<string>();
// Registered after RedisServer's own hook (imported above), which kills the processes first.
process.once('exit', () => {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/** One node as a live node sees it in CLUSTER NODES. */
export interface ClusterNode {
  id: string;
  host: string;
  port: number;
  role: 'master' | 'replica';
  /** The master a replica follows. */
  masterId: string | undefined;
  /** The slot ranges a master serves, both ends included: [[0, 5460]]. */
  slots: [number, number][];
  /** Flagged `fail` (or `fail?`, suspected) by the node asked. */
  failing: boolean;
}

export interface RedisClusterOptions {
  /** Masters, each serving an equal share of the slots (default 3, the least `redis-cli --cluster create` takes). */
  masters?: number;
  /** Replicas of each master (default 1): a master without one cannot be failed over. */
  replicasPerMaster?: number;
  /**
   * How long a node may not answer before it is suspected (default 1000 ms). It governs how long a SIGKILLed
   * master's slots stay unserved: about this, plus the replica's election (0.5-1 s). Much lower and a busy
   * machine makes nodes fail each other by mistake.
   */
  nodeTimeoutMs?: number;
  /** More redis-server arguments for every node. */
  args?: string[];
}

/** What one running node reports about the cluster. */
interface Report {
  port: number;
  info: Record<string, string>;
  replication: Record<string, string>;
  view: ClusterNode[];
}

/**
 * A throwaway Redis Cluster for the cluster tests and the soak: `masters` × (1 + `replicasPerMaster`) local
 * `redis-server --cluster-enabled yes` processes (RedisServer), each on free ports and in its own temporary
 * directory, joined with `redis-cli --cluster create`. No Docker.
 *
 * Every method that changes the topology resolves only once the cluster has settled again: every running node
 * reports `cluster_state:ok`, they all agree on who serves which slots (and no stopped node does), and every
 * replica is in sync with its master. So a test goes on at once with a cluster a client can use: an ioredis
 * `Cluster` follows the MOVED it then gets, or refreshes its slot map when a node's connection drops.
 *
 * - `failover(master)`  a manual `CLUSTER FAILOVER` on its replica (graceful: the master hands over, nothing is lost);
 * - `kill(node)`        SIGKILL; a master's replica is elected in its place after `nodeTimeoutMs` and a bit;
 * - `restart(node)`     brings a killed node back on its port: it rejoins, a former master as a replica;
 * - `stop()`            kills every node for good and removes the directories (call it in afterAll; a worker
 *                       exit does it too).
 */
export class RedisCluster {
  private constructor(
    private readonly servers: RedisServer[],
    private readonly root: string,
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    const replicasPerMaster = options.replicasPerMaster ?? 1;
    const root = mkdtempSync(path.join(os.tmpdir(), 'cachegate-redis-cluster-'));
    directories.add(root);
    const cluster = new RedisCluster([], root);
    try {
      const count = masters * (1 + replicasPerMaster);
      const args = [
        '--cluster-node-timeout',
        String(options.nodeTimeoutMs ?? 1000),
        // A replica's first full sync (and a restarted node's) starts at once, not after the default 5 s
        // that waits for more replicas to share one transfer.
        '--repl-diskless-sync-delay',
        '0',
        ...(options.args ?? []),
      ];
      // Each is kept as soon as it runs, so that a failed start stops the ones that did start.
      await Promise.all(Array.from({ length: count }, async () => cluster.servers.push(await startNode(root, args))));
      await createCluster(cluster.servers, replicasPerMaster);
      await cluster.settle('the new cluster to be ok with every replica in sync', (view) => {
        const serving = view.filter((n) => n.role === 'master' && n.slots.length > 0);
        if (serving.length !== masters) throw new Error(`${serving.length} masters serve slots, not ${masters}`);
        for (const master of serving) {
          const replicas = view.filter((n) => n.masterId === master.id).length;
          if (replicas !== replicasPerMaster) throw new Error(`${master.port} has ${replicas} replicas`);
        }
      });
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Every node, as ioredis `new Cluster(startupNodes)` takes them. */
  get startupNodes(): { host: string; port: number }[] {
    return this.servers.map((s) => ({ host: HOST, port: s.port }));
  }

  /** Every node as `host:port,…`, the form of REDIS_CLUSTER_NODES. */
  get nodeList(): string {
    return this.startupNodes.map((n) => `${n.host}:${n.port}`).join(',');
  }

  /** Every node the cluster knows, killed ones included (`failing`), as a running node sees them. */
  async nodes(): Promise<ClusterNode[]> {
    return parseClusterNodes((await ask(this.livePort(), [['CLUSTER', 'NODES']]))[0]);
  }

  /** The masters that serve slots. */
  async masters(): Promise<ClusterNode[]> {
    return (await this.nodes()).filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0);
  }

  async replicas(): Promise<ClusterNode[]> {
    return (await this.nodes()).filter((n) => n.role === 'replica' && !n.failing);
  }

  /** The master that serves `key` now (hash tags included: `{a}x` and `{a}y` have one master). */
  async masterOf(key: string): Promise<ClusterNode> {
    const slot = Number((await ask(this.livePort(), [['CLUSTER', 'KEYSLOT', key]]))[0]);
    const master = (await this.masters()).find((m) => m.slots.some(([from, to]) => from <= slot && slot <= to));
    if (!master) throw new Error(`no master serves slot ${slot} (of key ${key})`);
    return master;
  }

  /** A running replica of `master`. */
  async replicaOf(master: ClusterNode): Promise<ClusterNode> {
    const replica = (await this.replicas()).find((r) => r.masterId === master.id);
    if (!replica) throw new Error(`master ${master.port} has no running replica`);
    return replica;
  }

  /**
   * `CLUSTER FAILOVER` on a replica of `master`; resolves once that replica serves the master's slots and the
   * cluster has settled (the old master a replica of it, in sync). `graceful` waits for the replica to have
   * every write of the master and loses nothing; `force` does not wait for the master (it may be unreachable);
   * `takeover` does not even ask the other masters for a vote.
   */
  async failover(
    master: ClusterNode,
    { mode = 'graceful' }: { mode?: 'graceful' | 'force' | 'takeover' } = {},
  ): Promise<void> {
    const replica = await this.replicaOf(master);
    await ask(replica.port, [['CLUSTER', 'FAILOVER', ...(mode === 'graceful' ? [] : [mode.toUpperCase()])]]);
    await this.settle(`replica ${replica.port} to take over from master ${master.port} (${mode})`, (view) => {
      const promoted = view.find((n) => n.id === replica.id);
      if (promoted?.role !== 'master' || !sameSlots(promoted.slots, master.slots)) {
        throw new Error(`${replica.port} does not serve the slots of ${master.port} yet`);
      }
    });
  }

  /**
   * SIGKILLs `node`. Resolves once the cluster has settled without it: every node flags it `fail`, and a
   * master's slots are served by its replica, elected in its place.
   */
  async kill(node: ClusterNode): Promise<void> {
    // Without a replica its slots would stay unserved and the cluster down: refuse rather than time out.
    if (node.role === 'master' && node.slots.length > 0) await this.replicaOf(node);
    await this.server(node).stop();
    await this.settle(`the cluster to be ok without ${node.port}`);
  }

  /** Starts a killed node again on its port; resolves once it has rejoined (a former master as a replica), in sync. */
  async restart(node: ClusterNode): Promise<void> {
    await this.server(node).start();
    await this.settle(`${node.port} to rejoin the cluster`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
    rmSync(this.root, { recursive: true, force: true });
    directories.delete(this.root);
  }

  private server(node: ClusterNode): RedisServer {
    const server = this.servers.find((s) => s.port === node.port);
    if (!server) throw new Error(`${node.host}:${node.port} is not a node of this cluster`);
    return server;
  }

  private livePort(): number {
    const live = this.servers.find((s) => s.isRunning);
    if (!live) throw new Error('no node of the cluster is running');
    return live.port;
  }

  /**
   * Waits until the cluster has settled, and `expect` (an assertion on the nodes' common view) holds:
   * - every running node reports `cluster_state:ok` with all 16384 slots assigned;
   * - they all see the same nodes, in the same roles, with the same slots and failure flags;
   * - that view flags exactly the stopped nodes as failed, and no stopped node serves a slot;
   * - every running replica is in sync with its master (`master_link_status:up`, no sync in progress).
   * A failover takes about the node timeout plus an election (1-2 s here); the timeout leaves room for a
   * loaded machine.
   */
  private async settle(message: string, expect: (view: ClusterNode[]) => void = () => undefined): Promise<void> {
    await eventually(
      async () => {
        const running = this.servers.filter((s) => s.isRunning).map((s) => s.port);
        const reports = await Promise.all(running.map((port) => report(port)));
        for (const { port, info } of reports) {
          if (info.cluster_state !== 'ok') throw new Error(`${port} says cluster_state:${info.cluster_state}`);
          if (Number(info.cluster_slots_assigned) !== SLOT_COUNT) {
            throw new Error(`${port} says ${info.cluster_slots_assigned} slots are assigned`);
          }
        }
        const [first, ...others] = reports;
        const agreed = describeView(first.view);
        for (const other of others) {
          if (describeView(other.view) !== agreed) {
            throw new Error(
              `${other.port} and ${first.port} see different clusters:\n${describeView(other.view)}\n--\n${agreed}`,
            );
          }
        }
        if (first.view.length !== this.servers.length) throw new Error(`${first.view.length} nodes known`);
        for (const node of first.view) {
          const stopped = !running.includes(node.port);
          if (node.failing !== stopped) {
            throw new Error(`${node.port} is ${stopped ? 'stopped' : 'running'} but failing=${node.failing}`);
          }
          if (stopped && node.slots.length > 0) throw new Error(`stopped ${node.port} still serves slots`);
        }
        for (const { port, replication } of reports) {
          if (replication.role !== 'slave') continue;
          if (replication.master_link_status !== 'up' || replication.master_sync_in_progress !== '0') {
            throw new Error(`replica ${port} is not in sync (master_link_status:${replication.master_link_status})`);
          }
        }
        expect(first.view);
      },
      { timeoutMs: 30_000, intervalMs: 50, message },
    );
  }
}

/** Starts one node on free ports (its client port and its cluster bus port), in a directory of its own. */
async function startNode(root: string, args: string[]): Promise<RedisServer> {
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(path.join(root, 'node-'));
    try {
      return await RedisServer.start({
        args: [
          '--cluster-enabled',
          'yes',
          '--dir',
          dir,
          // Relative to --dir. Holds the node's id and its view of the cluster, so a restart rejoins.
          '--cluster-config-file',
          'nodes.conf',
          // The bus port defaults to port + 10000, which may be taken or past 65535 for a high free port.
          '--cluster-port',
          String(await freePort()),
          ...args,
        ],
      });
    } catch (err) {
      // The bus port may have been taken between the probe and the spawn.
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= 3) throw err;
    }
  }
}

/** `redis-cli --cluster create`: assigns the slots evenly to the first nodes, the others become their replicas. */
async function createCluster(servers: RedisServer[], replicasPerMaster: number): Promise<void> {
  const addresses = servers.map((s) => `${HOST}:${s.port}`);
  await promisify(execFile)(
    'redis-cli',
    ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
    { timeout: 60_000 },
  ).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  });
}

/** Runs `commands` on the node at `port` over a connection of their own; their replies as strings. */
async function ask(port: number, commands: string[][]): Promise<string[]> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // a failed connect rejects connect() below
  try {
    await client.connect();
    const results = (await client.pipeline(commands.map((command) => ['call', ...command])).exec()) ?? [];
    return results.map(([err, reply]) => {
      if (err) throw err;
      return String(reply);
    });
  } finally {
    client.disconnect();
  }
}

async function report(port: number): Promise<Report> {
  const [info, nodes, replication] = await ask(port, [
    ['CLUSTER', 'INFO'],
    ['CLUSTER', 'NODES'],
    ['INFO', 'replication'],
  ]);
  return { port, info: parseInfo(info), replication: parseInfo(replication), view: parseClusterNodes(nodes) };
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/**
 * CLUSTER NODES: one line per node,
 * `<id> <ip:port@cport[,hostname]> <flags> <master|-> <ping-sent> <pong-recv> <epoch> <link> <slot ranges…>`.
 * Slots being migrated (`[1000->-<id>]`) are left out: these tests never reshard.
 */
function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      const hostPort = address.split('@')[0];
      const colon = hostPort.lastIndexOf(':');
      const flagList = flags.split(',');
      return {
        id,
        host: hostPort.slice(0, colon),
        port: Number(hostPort.slice(colon + 1)),
        role: flagList.includes('slave') ? 'replica' : 'master',
        masterId: master === '-' ? undefined : master,
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range) => {
            const [from, to = from] = range.split('-').map(Number);
            return [from, to] as [number, number];
          }),
        failing: flagList.includes('fail') || flagList.includes('fail?'),
      };
    });
}

/** A view as one comparable string: the nodes by id, each with its role, master, slots and failure flag. */
function describeView(view: ClusterNode[]): string {
  return view
    .map((n) => `${n.id} ${n.port} ${n.role} ${n.masterId ?? '-'} ${n.failing ? 'failing' : 'ok'} ${n.slots.join(' ')}`)
    .sort()
    .join('\n');
}

function sameSlots(a: [number, number][], b: [number, number][]): boolean {
  return a.join(' ') === b.join(' ');
}
