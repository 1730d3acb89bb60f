import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { CdcEvent } from '@app/cdc';
import type { IdempotencyService } from '../idempotency/idempotency.service';
import type { CatalogCacheService } from './catalog-cache.service';
import { CatalogWrites } from './catalog-writes';

const event = {
  id: 'e1',
  type: 'catalog.product.updated',
  messageVersion: 1,
  schemaVersion: 1,
  source: 'postgres',
  occurredAt: '2026-12-04T00:00:00.000Z',
  aggregate: { type: 'product', id: '7c1f5a52-4b4e-4b5e-9a55-0d7c9a0c1a11' },
  data: {},
};

/** A transaction whose outbox holds `captured` for this transaction; the statements it was sent, in order. */
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

describe('CatalogWrites (API writes apply their own changes before answering)', () => {
  it('marks the outbox before the work, reads its own events after it, and applies them', async () => {
    const { idempotency, statements } = transactionWith([event]);
    const applied: CdcEvent[][] = [];
    const cache = { applyEvents: (events: CdcEvent[]) => (applied.push(events), Promise.resolve()) };
    const writes = new CatalogWrites(idempotency, cache as unknown as CatalogCacheService);

    const answer = await writes.run(async () => {
      statements.push('work');
      return 'written';
    });
    expect(answer).toBe('written');
    expect(statements).toEqual(['mark', 'work', 'since']);
    expect(applied).toEqual([[event]]);
  });

  it('answers the committed write when Redis fails, and says CDC drops the views', async () => {
    const { idempotency } = transactionWith([event]);
    const cache = { applyEvents: () => Promise.reject(new Error('redis: connection is closed')) };
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const writes = new CatalogWrites(idempotency, cache as unknown as CatalogCacheService);
      await expect(writes.run(() => Promise.resolve('written'))).resolves.toBe('written');
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/1 committed change.*redis: connection is closed.*CDC/));
    } finally {
      warn.mockRestore();
    }
  });

  it('applies nothing when the transaction captured nothing (an Idempotency-Key replay)', async () => {
    const { idempotency } = transactionWith([]);
    const cache = { applyEvents: jest.fn() };
    await new CatalogWrites(idempotency, cache as unknown as CatalogCacheService).run(() => Promise.resolve(1));
    expect(cache.applyEvents).not.toHaveBeenCalled();
  });
});
