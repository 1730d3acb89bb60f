import { CatalogAndOrders1763700000000 } from './1763700000000-catalog-and-orders';
import { CdcOutbox1763700100000 } from './1763700100000-cdc-outbox';
import { CdcTruncateAndIdentity1763700200000 } from './1763700200000-cdc-truncate-and-identity';
import { IdempotencyKeys1763700300000 } from './1763700300000-idempotency-keys';
import { BulkCapture1763700400000 } from './1763700400000-bulk-capture';
import { GenericCapture1763700500000 } from './1763700500000-generic-capture';
import { OutboxEventIdUnindexed1763700600000 } from './1763700600000-outbox-event-id-unindexed';
import { OutboxNotifyFloor1763700700000 } from './1763700700000-outbox-notify-floor';
import { CaptureResumed1763700800000 } from './1763700800000-capture-resumed';
import { OutboxDiscarded1763700900000 } from './1763700900000-outbox-discarded';

/**
 * Every migration of the BFF's schemas (catalog, orders, the CDC outbox, its
 * capture triggers and the database identity), and the capture of scaffolded
 * domains' tables that the cache-domain schematic appends, oldest first:
 * explicit, so ts-jest and dist load the same list. apps/billing keeps its
 * own, in its own table.
 */
export const BFF_MIGRATIONS = [
  CatalogAndOrders1763700000000,
  CdcOutbox1763700100000,
  CdcTruncateAndIdentity1763700200000,
  IdempotencyKeys1763700300000,
  BulkCapture1763700400000,
  GenericCapture1763700500000,
  OutboxEventIdUnindexed1763700600000,
  OutboxNotifyFloor1763700700000,
  CaptureResumed1763700800000,
  OutboxDiscarded1763700900000,
];

export const BFF_MIGRATIONS_TABLE = 'cachegate_migrations';
