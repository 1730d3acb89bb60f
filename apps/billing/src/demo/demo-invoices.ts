import type { InvoiceStatus } from '../invoices/invoice-status';

/**
 * The demo invoices loaded on the first start in development. Deterministic on
 * purpose. The accounts are the BFF's demo accounts (apps/bff/src/demo/demo-data.ts,
 * kept in step by a unit test), so `GET /accounts/acme/invoices` on the BFF
 * answers at once; billing does not import the BFF at run time.
 */
export const DEMO_ACCOUNTS = ['acme', 'globex', 'initech'] as const;

const STATUSES: readonly InvoiceStatus[] = ['paid', 'paid', 'open', 'draft', 'void'];

export interface DemoInvoice {
  accountId: string;
  number: string;
  status: InvoiceStatus;
  totalCents: number;
  currency: string;
  dueDate: string;
}

/** 3, 4 and 5 invoices for the three accounts, e.g. INV-ACME-0001, due monthly in 2026. */
export function demoInvoices(): DemoInvoice[] {
  return DEMO_ACCOUNTS.flatMap((accountId, ai) =>
    Array.from({ length: 3 + ai }, (_, n) => ({
      accountId,
      number: `INV-${accountId.toUpperCase()}-${String(n + 1).padStart(4, '0')}`,
      status: STATUSES[n % STATUSES.length],
      totalCents: 1000 + ((ai * 7 + n * 13) % 40) * 250 + (n % 2) * 99,
      currency: 'EUR',
      dueDate: `2026-${String(n + 1).padStart(2, '0')}-${String(10 + ai * 5).padStart(2, '0')}`,
    })),
  );
}
