import { compareView, describeStale } from './compare';

describe('soak comparator', () => {
  const product = { id: 'p1', name: 'Espresso', priceCents: 450, tags: ['a', 'b'] };

  it('accepts equal views whatever the key order', () => {
    const reordered = { tags: ['a', 'b'], priceCents: 450, name: 'Espresso', id: 'p1' };
    expect(compareView('bff-a', '/x', { status: 200, body: product }, { status: 200, body: reordered })).toBeNull();
  });

  it('reports a view whose body differs, in full', () => {
    const stale = compareView(
      'bff-a',
      '/catalog/products/p1',
      { status: 200, body: product, xCache: 'HIT-L1' },
      { status: 200, body: { ...product, priceCents: 500 } },
    );
    expect(stale).not.toBeNull();
    const text = describeStale(stale!);
    expect(text).toContain('bff-a GET /catalog/products/p1');
    expect(text).toContain('"priceCents":450');
    expect(text).toContain('"priceCents":500');
    expect(text).toContain('HIT-L1');
  });

  it('reports a nested difference, an array order difference and a type difference', () => {
    const a = { status: 200, body: { category: { name: 'Tea' }, products: [{ id: 1 }, { id: 2 }] } };
    expect(compareView('b', '/l', a, { status: 200, body: { ...a.body, category: { name: 'Teas' } } })).not.toBeNull();
    expect(
      compareView('b', '/l', a, { status: 200, body: { ...a.body, products: [{ id: 2 }, { id: 1 }] } }),
    ).not.toBeNull();
    expect(compareView('b', '/n', { status: 200, body: { n: 1 } }, { status: 200, body: { n: '1' } })).not.toBeNull();
  });

  it('reports a cached view for something the source no longer has', () => {
    expect(
      compareView('b', '/orders/o1', { status: 200, body: { id: 'o1' } }, { status: 404, body: { id: 'o1' } }),
    ).not.toBeNull();
  });
});
