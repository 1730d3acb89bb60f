import { InvalidCacheKeyError } from '@app/cache';
import { invoicesKeys } from './invoices.keys';

const ID = '3f2c1d8e-5b7a-4c2e-9d1f-6a8b7c9d0e1f';

describe('invoicesKeys', () => {
  it('builds invoices:item:<id> with the id in lower case', () => {
    expect(invoicesKeys.item(ID)).toBe(`invoices:item:${ID}`);
    expect(invoicesKeys.item(ID.toUpperCase())).toBe(`invoices:item:${ID}`);
  });

  it.each([undefined, 42, '', 'not-a-uuid', '*', `${ID}:x`, `${ID}*`])('rejects %p as an item id', (id) => {
    expect(() => invoicesKeys.item(id)).toThrow(InvalidCacheKeyError);
  });
});
