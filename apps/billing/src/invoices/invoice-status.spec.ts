import { canTransition, INVOICE_STATUSES, InvoiceStatus, isEditable } from './invoice-status';

describe('invoice status rules', () => {
  const allowed: [InvoiceStatus, InvoiceStatus][] = [
    ['draft', 'open'],
    ['draft', 'void'],
    ['open', 'paid'],
    ['open', 'void'],
  ];

  it.each(allowed)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it('refuses every other change of status', () => {
    for (const from of INVOICE_STATUSES) {
      for (const to of INVOICE_STATUSES) {
        if (from === to || allowed.some(([f, t]) => f === from && t === to)) continue;
        expect([from, to, canTransition(from, to)]).toEqual([from, to, false]);
      }
    }
  });

  it('treats the current status as no transition', () => {
    for (const s of INVOICE_STATUSES) expect(canTransition(s, s)).toBe(true);
  });

  it('lets amounts and due dates change only before an invoice is settled', () => {
    expect(INVOICE_STATUSES.filter(isEditable)).toEqual(['draft', 'open']);
  });
});
