import { InvalidEnvelopeError, parseDualPublish, parseEnvelope, streamPattern } from './cdc-event';

const valid = {
  id: '5f0c3c1e-1d1b-4c59-9c9a-000000000001',
  type: 'catalog.product.updated',
  messageVersion: 1,
  schemaVersion: 1,
  source: 'postgres:catalog.products',
  occurredAt: '2026-11-21T10:00:00.123Z',
  aggregate: { type: 'product', id: 'p1' },
  data: { categoryId: 'c1' },
  keys: ['catalog:product:p1'],
};

describe('parseEnvelope', () => {
  it('accepts a valid envelope', () => {
    expect(parseEnvelope(JSON.stringify(valid))).toEqual(valid);
    const { keys, ...withoutKeys } = valid;
    expect(parseEnvelope(JSON.stringify(withoutKeys)).keys).toBeUndefined();
    expect(keys).toHaveLength(1);
  });

  it('accepts a truncated event (every aggregate of the type: id *)', () => {
    const truncated = {
      ...valid,
      type: 'orders.order.truncated',
      source: 'postgres:orders.order_items',
      aggregate: { type: 'order', id: '*' },
      data: {},
    };
    expect(parseEnvelope(JSON.stringify(truncated))).toEqual(truncated);
  });

  it.each([
    ['not JSON', '{oops'],
    ['no event', null],
    ['an array', '[]'],
    ['a bad type', JSON.stringify({ ...valid, type: 'catalog.product.changed' })],
    ['no id', JSON.stringify({ ...valid, id: '' })],
    ['a bad time', JSON.stringify({ ...valid, occurredAt: 'yesterday' })],
    ['no aggregate id', JSON.stringify({ ...valid, aggregate: { type: 'product' } })],
    ['data not an object', JSON.stringify({ ...valid, data: 'x' })],
    ['a wildcard key', JSON.stringify({ ...valid, keys: ['catalog:product:*'] })],
    ['a key with a space', JSON.stringify({ ...valid, keys: ['catalog:product:a b'] })],
    ['a string schemaVersion', JSON.stringify({ ...valid, schemaVersion: '1' })],
    ['a truncated event naming one aggregate', JSON.stringify({ ...valid, type: 'catalog.product.truncated' })],
  ])('rejects %s', (_, raw) => {
    expect(() => parseEnvelope(raw as string)).toThrow(InvalidEnvelopeError);
  });
});

describe('stream names and dual publishing', () => {
  it('names streams by domain and schema version', () => {
    expect(streamPattern('catalog', 2)).toBe('cdc.catalog.v2');
  });

  it('parses CDC_DUAL_PUBLISH', () => {
    expect(parseDualPublish('')).toEqual({});
    expect(parseDualPublish('catalog:2,1;orders:1,2,2')).toEqual({ catalog: [1, 2], orders: [1, 2] });
  });
});
