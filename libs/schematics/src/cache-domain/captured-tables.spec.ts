import { parseCapturedTables } from './captured-tables';

describe('parseCapturedTables', () => {
  it('reads schema.table as the items, keyed by id', () => {
    expect(parseCapturedTables('public.coupons')).toEqual([
      { schema: 'public', table: 'coupons', qualified: 'public.coupons', key: 'id', extension: false },
    ]);
  });

  it('takes the key column after a colon', () => {
    expect(parseCapturedTables('sales.coupons:coupon_id')).toEqual([
      { schema: 'sales', table: 'coupons', qualified: 'sales.coupons', key: 'coupon_id', extension: false },
    ]);
  });

  it('reads further tables, separated by commas (spaces allowed), as extensions of the first', () => {
    expect(parseCapturedTables('public.coupons, public.coupon_codes:coupon_id,public.coupon_notes')).toEqual([
      expect.objectContaining({ qualified: 'public.coupons', key: 'id', extension: false }),
      expect.objectContaining({ qualified: 'public.coupon_codes', key: 'coupon_id', extension: true }),
      expect.objectContaining({ qualified: 'public.coupon_notes', key: 'id', extension: true }),
    ]);
  });

  it.each([undefined, '', '  '])('reads %p as no table', (option) => {
    expect(parseCapturedTables(option)).toEqual([]);
  });

  it.each([
    'coupons',
    'Public.coupons',
    'public.Coupons',
    'public.coupons;drop table x',
    'a.b.c',
    'public.',
    '.coupons',
    'public.coupons:',
    'public.coupons:Id',
    'public."coupons"',
    'public.1coupons',
    'public.cou-pons',
    `public.${'x'.repeat(64)}`,
    'public.coupons,',
    'public.coupons,,public.codes',
  ])('rejects %p, naming the expected form', (option) => {
    expect(() => parseCapturedTables(option)).toThrow(/is not a table cache-domain can read: use schema\.table/);
  });

  it('accepts 63-character identifiers, the PostgreSQL limit', () => {
    const name = 'x'.repeat(63);
    expect(parseCapturedTables(`${name}.${name}:${name}`)).toHaveLength(1);
  });

  it('rejects a table named twice', () => {
    expect(() => parseCapturedTables('public.coupons,public.coupons:coupon_id')).toThrow(
      /table public\.coupons is named twice/,
    );
  });
});
