import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';

/**
 * Idempotent creation (docs/contract.md §3): `@Idempotent()` on a controller method, `@IdempotencyKey()`
 * on its parameter, and IdempotencyService.transaction() in the service that writes.
 */
@Module({
  providers: [IdempotencyService],
  exports: [IdempotencyService],
})
export class IdempotencyModule {}
