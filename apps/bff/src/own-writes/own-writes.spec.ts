import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { InvalidationBus } from '@app/cache';
import type { CdcEvent } from '@app/cdc';
import type { CatalogCacheService } from '../catalog/catalog-cache.service';
import type { IdempotencyService } from '../idempotency/idempotency.service';
import type { OrdersCacheService } from '../orders/orders-cache.service';
import { OwnWrites } from './own-writes';

const event = (type: string, id: string) => ({
  id,
  type,
  messageVersion: 1,
  schemaVersion: 1,
  source: 'postgres',
  occurredAt: '2026-12-04T00:00:00.000Z',
  aggregate: { type: type.split('.')[1], id: '7c1f5a52-4b4e-4b5e-9a55-0d7c9a0c1a11' },
  data: {},
});
const stock = event('catalog.stock.updated', 'e1');
const order = event('orders.order.inserted', 'e2');

/** A transaction whose outbox holds `captured` for it; the statements it was sent, in order. */
function transactionWith(captured: object[]) {
  const statements: string[] = [];
  const em = {
    query: (sql: string) => {
      statements.push(sql.includes('outbox_id_seq') ? 'mark' : sql.includes('pg_current_xact_id') ? 'since' : sql);
      return Promise.resolve(
        sql.includes('outbox_id_seq') ? [{ mark: '41' }] : captured.map((e) => ({ event: JSON.stringify(e) })),
      );
    },
  } as unknown as EntityManager;
  const idempotency = {
    transaction: (_context: unknown, work: (em: EntityManager) => Promise<unknown>) => work(em),
  } as unknown as IdempotencyService;
  return { idempotency, statements };
}

/** A domain cache that records what it was asked to apply, or fails. */
function applier(failure?: Error) {
  const applied: CdcEvent[][] = [];
  return {
    applied,
    applyEvents: (events: CdcEvent[]) => {
      after.push('applied');
      return failure ? Promise.reject(failure) : (applied.push(events), Promise.resolve());
    },
  };
}

/** The order of what a write did after its commit: applies per domain, then the wait for the channel. */
let after: string[] = [];
const bus = { barrier: () => (after.push('barrier'), Promise.resolve()) };
const ownWrites = (idempotency: IdempotencyService, catalog: object, orders: object) =>
  new OwnWrites(
    idempotency,
    bus as unknown as InvalidationBus,
    catalog as CatalogCacheService,
    orders as OrdersCacheService,
  );

beforeEach(() => (after = []));

describe('OwnWrites (API writes apply their own changes before answering)', () => {
  it('marks the outbox before the work, reads its events after it, and gives each domain its own', async () => {
    const { idempotency, statements } = transactionWith([stock, order]);
    const catalog = applier();
    const orders = applier();
    const answer = await ownWrites(idempotency, catalog, orders).run(async () => {
      statements.push('work');
      return 'written';
    });
    expect(answer).toBe('written');
    expect(statements).toEqual(['mark', 'work', 'since']);
    expect(catalog.applied).toEqual([[stock]]);
    expect(orders.applied).toEqual([[order]]);
    expect(after).toEqual(['applied', 'applied', 'barrier']);
  });

  it('answers the committed write when Redis fails, says CDC drops the views, and still applies the other domain', async () => {
    const { idempotency } = transactionWith([stock, order]);
    const orders = applier();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const writes = ownWrites(idempotency, applier(new Error('redis: connection is closed')), orders);
      await expect(writes.run(() => Promise.resolve('written'))).resolves.toBe('written');
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/1 committed catalog change.*redis: connection is closed.*CDC/),
      );
      expect(orders.applied).toEqual([[order]]);
    } finally {
      warn.mockRestore();
    }
  });

  it('applies nothing when the transaction captured nothing (an Idempotency-Key replay)', async () => {
    const { idempotency } = transactionWith([]);
    const catalog = { applyEvents: jest.fn() };
    await ownWrites(idempotency, catalog, catalog).run(() => Promise.resolve(1));
    expect(catalog.applyEvents).not.toHaveBeenCalled();
    expect(after).toEqual([]);
  });
});
