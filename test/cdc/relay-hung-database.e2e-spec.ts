import { ConfigService } from '@nestjs/config';
import { Logger } from '@nestjs/common';
import { cdcRedis, OutboxRelay, RedisStreamsClient } from '@app/cdc';
import { parseDatabaseUrl } from '@app/database';
import { eventually } from '../../tools/eventually';
import { TcpProxy } from '../../tools/tcp-proxy';
import { CDC_OFF } from '../harness/cdc';
import { useSeededBff } from '../harness/seeded-bff';
import { seedCatalog } from './support';

/**
 * docs/contract.md §6.1: the relay's Postgres connection hangs (a proxy holds its bytes, nothing is closed). The
 * relay's query times out on its side and it reconnects; on Postgres's side the hung session, which holds the
 * leader's lock, goes idle and is ended (idle_session_timeout), so the lock is free again. Without both, the
 * relay waited for good and nothing was published: the one relay of a single-instance deployment, here.
 */
describe('CDC relay: its Postgres connection hangs for good', () => {
  let proxy: TcpProxy;
  const suite = useSeededBff({
    instances: [CDC_OFF],
    seed: ({ ctx }) => seedCatalog(ctx.sql, 1, 1),
    settle: false,
    before: async (ctx) => {
      const { host, port } = parseDatabaseUrl(ctx.databaseUrl);
      proxy = await TcpProxy.start({ host, port });
    },
    after: () => proxy?.close(),
  });
  let relay: OutboxRelay;

  beforeAll(async () => {
    // The relay warns on the timed-out query and the lost connection: expected here.
    if (!process.env.TEST_LOG_LEVEL) Logger.overrideLogger(['error']);
    const { topology, replicas } = cdcRedis(suite.bff.get(ConfigService));
    const url = new URL(suite.ctx.databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    relay = new OutboxRelay(
      new RedisStreamsClient({ redis: topology, replicas, prefix: suite.ctx.redisPrefix, maxLen: 1000 }),
      { databaseUrl: url.toString(), dualPublish: {}, retentionMs: 3_600_000, pollMs: 200, queryTimeoutMs: 1000 },
    );
    relay.start();
    await eventually(() => relay.leader, { timeoutMs: 10_000, message: 'the relay to lead' });
  });

  afterAll(() => relay?.stop());

  const unpublished = async () =>
    Number((await suite.ctx.sql.query(`SELECT count(*) FROM cdc.outbox WHERE published_at IS NULL`)).rows[0].count);

  it('publishes a change made after the hang, from a new connection, once Postgres has ended the hung one', async () => {
    await eventually(async () => (await unpublished()) === 0, { timeoutMs: 10_000, message: 'the seed published' });
    await proxy.holdEstablished(); // its sessions (and the lock's) hang; new connections get through
    const held = Date.now();
    await suite.ctx.sql.query(`UPDATE catalog.products SET name = 'after the hang' WHERE id = $1`, [
      suite.seeded.products[0].id,
    ]);
    // idle_session_timeout is 10 s here (its floor): the relay's own timeout (1 s) alone cannot free the lock.
    await eventually(async () => (await unpublished()) === 0, {
      timeoutMs: 30_000,
      message: 'the change to be published over a new connection',
    });
    expect(relay.leader).toBe(true);
    if (process.env.CDC_TEST_VERBOSE) process.stderr.write(`published ${Date.now() - held} ms after the hang\n`);
  }, 60_000);
});
