import { Injectable, NotImplementedException } from '@nestjs/common';

/** What GET /invoices/:id answers with. TODO: describe the item's fields. */
export interface InvoicesItemView {
  id: string;
}

/**
 * Where invoices items come from. The cache calls it only on a miss, so
 * the module is wired but inert: the route answers 501 until `read` is written.
 */
@Injectable()
export class InvoicesSource {
  async read(id: string): Promise<InvoicesItemView> {
    // TODO: read the item from its source (a repository, another service), map it to
    // InvoicesItemView and throw NotFoundException when it does not exist.
    // A cached item is served for 90 s after it was read; writers in this process can
    // drop it sooner with InvoicesCacheService.changed() after their commit.
    throw new NotImplementedException(`the invoices source read is not written yet (item ${id})`);
  }
}
