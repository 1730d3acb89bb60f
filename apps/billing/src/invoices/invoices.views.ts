import type { InvoiceStatus } from './invoice-status';

/** The JSON shapes the billing API answers with. */

/** One element of `GET /accounts/:accountId/invoices` (docs/contract.md §3 "Invoices"), in this field order. */
export interface InvoiceSummaryView {
  id: string;
  number: string;
  status: InvoiceStatus;
  totalCents: number;
  currency: string;
  /** YYYY-MM-DD */
  dueDate: string;
}

/** What the write routes answer with: the summary plus the owner and the time of the last change. */
export interface InvoiceView extends InvoiceSummaryView {
  accountId: string;
  updatedAt: Date;
}
