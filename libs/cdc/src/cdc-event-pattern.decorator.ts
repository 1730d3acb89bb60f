import { applyDecorators, ArgumentsHost, Catch, RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';

/**
 * Hands a CDC handler's error to the transport unchanged. Nest's default RPC
 * filter would replace it with a generic "Internal server error", and the
 * transport logs it and records it on the dead letter.
 */
@Catch()
class PassHandlerErrors implements RpcExceptionFilter {
  catch(err: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => err);
  }
}

/** The `@EventPattern` extra that marks a handler as taking a batch of events (RedisStreamsServer reads it). */
export const CDC_BATCH_HANDLER = 'cdcBatch';

/**
 * `@EventPattern('cdc.<domain>.v<N>')` for CDC handlers: the method consumes
 * that change stream a batch at a time. Its payload is the batch's events
 * (`@Payload() events: CdcEvent[]`, in stream order, at least one), and it
 * applies them as one invalidation, merged (DomainCache.invalidateBatch), or
 * throws: the transport then applies halves of the batch, down to the entry
 * that fails on its own, so that mapping each event must be pure (no effect
 * before the invalidation). Its errors reach RedisStreamsServer as thrown. (A
 * controller-level filter, because Nest binds a connected microservice's
 * global filters before they can be set.)
 *
 * A plain `@EventPattern('cdc.<domain>.v<N>')` handler still works and gets
 * one event per call.
 */
export function CdcEventPattern(stream: string): MethodDecorator {
  return applyDecorators(EventPattern(stream, { [CDC_BATCH_HANDLER]: true }), UseFilters(new PassHandlerErrors()));
}
