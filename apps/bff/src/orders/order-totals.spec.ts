import { BadRequestException } from '@nestjs/common';
import { orderTotalCents } from './order-totals';

describe('orderTotalCents', () => {
  it('sums quantity × unit price', () => {
    expect(
      orderTotalCents([
        { quantity: 2, unitPriceCents: 1999 },
        { quantity: 1, unitPriceCents: 500 },
      ]),
    ).toBe(4498);
  });

  it('is zero for no items', () => {
    expect(orderTotalCents([])).toBe(0);
  });

  it('refuses a total beyond the integer column', () => {
    expect(() => orderTotalCents([{ quantity: 1000, unitPriceCents: 2_147_484 }])).toThrow(BadRequestException);
    expect(orderTotalCents([{ quantity: 1000, unitPriceCents: 2_147_483 }])).toBe(2_147_483_000);
  });
});
