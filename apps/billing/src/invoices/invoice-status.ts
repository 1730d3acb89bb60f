export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'void'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

const NEXT: Record<InvoiceStatus, readonly InvoiceStatus[]> = {
  draft: ['open', 'void'],
  open: ['paid', 'void'],
  paid: [],
  void: [],
};

/**
 * draft→open→paid, and draft/open→void; paid and void are final. Keeping the
 * status (sending the current one again) is not a transition and always allowed.
 */
export function canTransition(from: InvoiceStatus, to: InvoiceStatus): boolean {
  return from === to || NEXT[from].includes(to);
}

/** The amount and the due date can change until the invoice is paid or voided. */
export function isEditable(status: InvoiceStatus): boolean {
  return status === 'draft' || status === 'open';
}
