import { setTimeout as sleep } from 'node:timers/promises';
import { OutboxRelay } from '@app/cdc';
import { waitForCdc } from '../harness/cdc';
import { eventually } from '../../tools/eventually';
import { call, json } from '../harness/http';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useSeededBff } from '../harness/seeded-bff';
import { appReader, catalogUrls, expectViewsEqual, seedCatalog, warm } from './support';

/**
 * Counts, per relay of this process, the attempts to take the lock that found it
 * held elsewhere. (The attempt is a private method: nothing public shows an
 * attempt that changed nothing.) Spies on the class, so relays started later count too.
 */
function countLockRefusals(): Map<OutboxRelay, number> {
  const refusals = new Map<OutboxRelay, number>();
  const tryLead = (OutboxRelay.prototype as any).tryLead as (this: OutboxRelay) => Promise<boolean>;
  jest.spyOn(OutboxRelay.prototype as any, 'tryLead').mockImplementation(async function (this: OutboxRelay) {
    const locked = await tryLead.call(this);
    if (!locked) refusals.set(this, (refusals.get(this) ?? 0) + 1);
    return locked;
  });
  return refusals;
}

/**
 * docs/contract.md §6.1: exactly one relay is active at a time across all processes, and
 * another takes over within a few seconds when it dies. The first relay is a
 * real BFF process (started first, so it takes the lock), killed with SIGKILL.
 */
describe('CDC relay leadership', () => {
  // Declared before the BFFs' fixture, so children die before their database is dropped.
  const procs = useChildProcesses();
  let child: ChildApp;
  let refusals: Map<OutboxRelay, number>;
  const suite = useSeededBff({
    before: async (ctx) => {
      // Started first, so it takes the lock.
      child = await procs.start(
        'bff',
        ctx.env({ CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false', CDC_CONSUMER_NAME: 'child-relay' }),
        { name: 'relay child' },
      );
      await child.waitForLine(/this process is now the active outbox relay/);
      refusals = countLockRefusals();
    },
    // Both with a short outbox retention: whichever takes over prunes what the child published.
    instances: [
      { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '1000', CDC_OUTBOX_RETENTION: '1s' },
      { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'false', CDC_OUTBOX_RETENTION: '1s' },
    ],
    truth: true,
    timeoutMs: 60_000,
  });

  afterAll(() => jest.restoreAllMocks());

  /** Sessions holding the relay's advisory lock in this test's database. */
  async function lockHolders(): Promise<number> {
    const { rows } = await suite.ctx.sql.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
        WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
          AND l.objid = (hashtext('cachegate:outbox-relay')::bigint & 4294967295)::oid`,
    );
    return Number(rows[0].count);
  }

  it('with three relays running, exactly one is active; when its process is SIGKILLed another takes over and publishes', async () => {
    const { apps, truth, ctx } = suite;
    const relays = apps.map((a) => a.get(OutboxRelay));
    // Every in-process relay has tried for the lock, and found it held, more than once.
    await eventually(() => relays.every((r) => (refusals.get(r) ?? 0) >= 2), {
      timeoutMs: 10_000,
      message: 'both in-process relays to be refused the lock twice',
    });
    expect(relays.map((r) => r.leader)).toEqual([false, false]);
    expect((await child.get('/health/cdc')).body.relay.activeHere).toBe(true);
    expect(json(await call(apps[0], 'GET', '/health/cdc')).relay.activeHere).toBe(false);
    expect(await lockHolders()).toBe(1);

    // Changes are published by the child and applied by the in-process subscriber.
    const seeded = await seedCatalog(ctx.sql, 1, 2);
    const urls = catalogUrls(seeded);
    await waitForCdc(apps[0]);
    await warm(appReader(apps[0]), urls);
    await ctx.sql.query(`UPDATE catalog.products SET name = 'Published by the child' WHERE id = $1`, [
      seeded.products[0].id,
    ]);
    await waitForCdc(apps[0]);
    expect(relays.map((r) => r.published)).toEqual([0, 0]);
    let views = await expectViewsEqual(appReader(apps[0]), appReader(truth), urls);
    expect(views[urls[2]].body).toMatchObject({ name: 'Published by the child' });

    const publishedByChild = Number(
      (await ctx.sql.query(`SELECT count(*) FROM cdc.outbox WHERE published_at IS NOT NULL`)).rows[0].count,
    );
    expect(publishedByChild).toBeGreaterThanOrEqual(4);
    // Time must pass: the rows must be older than the new leader's retention (1 s) for it to prune them.
    await sleep(1100);

    await child.kill('SIGKILL');
    const killedAt = Date.now();
    // A change committed while no relay is active.
    await ctx.sql.query(`UPDATE catalog.products SET name = 'Committed in the gap' WHERE id = $1`, [
      seeded.products[1].id,
    ]);
    await eventually(() => relays.some((r) => r.leader), { timeoutMs: 10_000, message: 'another relay to take over' });
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5000);
    expect(relays.filter((r) => r.leader)).toHaveLength(1);
    expect(await lockHolders()).toBe(1);

    await ctx.sql.query(`UPDATE catalog.categories SET name = 'After the takeover' WHERE id = $1`, [
      seeded.categories[0].id,
    ]);
    await waitForCdc(apps[0]);
    expect(relays.reduce((n, r) => n + r.published, 0)).toBeGreaterThanOrEqual(2);
    views = await expectViewsEqual(appReader(apps[0]), appReader(truth), urls);
    expect(views[urls[4]].body).toMatchObject({ name: 'Committed in the gap' });
    expect(views['/catalog/categories'].body).toMatchObject([{ name: 'After the takeover' }]);
    // The new leader pruned the rows published (by the child) longer ago than CDC_OUTBOX_RETENTION, and only those.
    const { rows } = await ctx.sql.query(`SELECT aggregate_id, published_at FROM cdc.outbox ORDER BY id`);
    expect(rows.map((r) => r.aggregate_id)).toEqual([seeded.products[1].id, seeded.categories[0].id]);
    expect(rows.every((r) => r.published_at !== null)).toBe(true);
    const leader = apps[relays.findIndex((r) => r.leader)];
    expect(json(await call(leader, 'GET', '/health/cdc')).relay.activeHere).toBe(true);
    if (process.env.CDC_TEST_VERBOSE) process.stderr.write(`relay takeover after SIGKILL: ${takeoverMs} ms\n`);
  }, 60_000);
});
