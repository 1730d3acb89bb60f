import { InvalidCacheKeyError } from '@app/cache';
import { invoicesKeys } from './invoices.keys';

describe('invoicesKeys', () => {
  it('builds invoices:account:<accountId>', () => {
    expect(invoicesKeys.account('acme_1-B')).toBe('invoices:account:acme_1-B');
  });

  it.each([undefined, 42, '', '*', 'acme*', 'a b', 'acme:x', 'orders:account:acme', 'x'.repeat(65)])(
    'rejects %p as an account id',
    (accountId) => {
      expect(() => invoicesKeys.account(accountId)).toThrow(InvalidCacheKeyError);
    },
  );
});
