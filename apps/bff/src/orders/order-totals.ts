import { BadRequestException } from '@nestjs/common';

/** The largest value of a Postgres `integer` column (total_cents). */
const MAX_TOTAL_CENTS = 2_147_483_647;

export interface PricedLine {
  quantity: number;
  unitPriceCents: number;
}

/** The order total; refuses a total that would not fit the column instead of letting Postgres fail later. */
export function orderTotalCents(lines: readonly PricedLine[]): number {
  const total = lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
  if (total > MAX_TOTAL_CENTS) {
    throw new BadRequestException(`items: order total ${total} exceeds the maximum of ${MAX_TOTAL_CENTS} cents`);
  }
  return total;
}
