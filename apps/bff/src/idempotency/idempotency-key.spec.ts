import { BadRequestException } from '@nestjs/common';
import { canonicalJson, decide, parseIdempotencyKey, requestHash, sweepEveryMs } from './idempotency-key';

describe('Idempotency-Key decisions (docs/contract.md §3 "Idempotent creation")', () => {
  describe('parseIdempotencyKey', () => {
    it('accepts 1..255 visible ASCII characters and reports an absent header as undefined', () => {
      expect(parseIdempotencyKey(undefined)).toBeUndefined();
      expect(parseIdempotencyKey('a')).toBe('a');
      expect(parseIdempotencyKey('order-2026-11-21T10:00:00Z#1')).toBe('order-2026-11-21T10:00:00Z#1');
      const visible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
      expect(parseIdempotencyKey(visible)).toBe(visible);
      expect(parseIdempotencyKey('~'.repeat(255))).toHaveLength(255);
    });

    it.each([
      ['empty', ''],
      ['a space', 'a b'],
      ['a leading space', ' a'],
      ['a tab', 'a\tb'],
      ['a newline', 'a\nb'],
      ['DEL', 'a\x7fb'],
      ['a non-ASCII character', 'cl\u00e9'],
      ['256 characters', 'k'.repeat(256)],
    ])('refuses a key with %s (400 naming the header)', (_what, key) => {
      expect(() => parseIdempotencyKey(key)).toThrow(BadRequestException);
      expect(() => parseIdempotencyKey(key)).toThrow(/Idempotency-Key must be 1 to 255 visible ASCII characters/);
    });

    it('refuses a header sent twice', () => {
      expect(() => parseIdempotencyKey(['a', 'b'])).toThrow(BadRequestException);
    });
  });

  describe('requestHash', () => {
    const body = {
      accountId: 'a-1',
      items: [{ productId: 'p', quantity: 2 }],
      shippingAddress: { city: 'X', line1: 'Y' },
    };

    it('is the same for the same request whatever the key order or whitespace of its JSON', () => {
      const reordered = JSON.parse(
        '{ "shippingAddress": {"line1": "Y", "city": "X"}, "items": [{"quantity": 2, "productId": "p"}], "accountId": "a-1" }',
      );
      expect(requestHash('POST', '/orders', reordered)).toBe(requestHash('POST', '/orders', body));
      expect(requestHash('POST', '/orders', body)).toMatch(/^[0-9a-f]{64}$/);
    });

    it('differs when the body, the path or the method differs', () => {
      const base = requestHash('POST', '/orders', body);
      expect(requestHash('POST', '/orders', { ...body, items: [{ productId: 'p', quantity: 3 }] })).not.toBe(base);
      // Array order is meaning, not formatting.
      const two = { items: [{ productId: 'a' }, { productId: 'b' }] };
      const swapped = { items: [{ productId: 'b' }, { productId: 'a' }] };
      expect(requestHash('POST', '/orders', two)).not.toBe(requestHash('POST', '/orders', swapped));
      expect(requestHash('POST', '/orders/1/items', body)).not.toBe(requestHash('POST', '/orders/2/items', body));
      expect(requestHash('PUT', '/orders', body)).not.toBe(base);
      // A string "2" is not the number 2.
      expect(requestHash('POST', '/x', { q: 2 })).not.toBe(requestHash('POST', '/x', { q: '2' }));
    });

    it('ignores the query string and the case of the path (ids are compared in lower case)', () => {
      const id = 'A1B2C3D4-0000-4000-8000-000000000000';
      expect(requestHash('POST', `/orders/${id}/items?x=1`, body)).toBe(
        requestHash('POST', `/orders/${id.toLowerCase()}/items`, body),
      );
    });

    it('canonical JSON sorts keys, keeps array order and drops undefined fields like JSON.stringify', () => {
      expect(canonicalJson({ b: 1, a: [3, { d: null, c: 'x' }], u: undefined })).toBe(
        '{"a":[3,{"c":"x","d":null}],"b":1}',
      );
      expect(canonicalJson(undefined)).toBe('null');
      expect(canonicalJson('é"')).toBe(JSON.stringify('é"'));
    });
  });

  describe('decide', () => {
    const hash = 'a'.repeat(64);
    it('no stored key → new; expired → expired (whatever the body); same request → replay; another → mismatch', () => {
      expect(decide(undefined, hash)).toBe('new');
      expect(decide({ requestHash: hash, expired: true }, hash)).toBe('expired');
      expect(decide({ requestHash: 'b'.repeat(64), expired: true }, hash)).toBe('expired');
      expect(decide({ requestHash: hash, expired: false }, hash)).toBe('replay');
      expect(decide({ requestHash: 'b'.repeat(64), expired: false }, hash)).toBe('mismatch');
    });
  });

  it('sweeps expired keys every minute, or twice per TTL when that is shorter', () => {
    expect(sweepEveryMs(86_400_000)).toBe(60_000);
    expect(sweepEveryMs(60_000)).toBe(30_000);
    expect(sweepEveryMs(1000)).toBe(500);
  });
});
