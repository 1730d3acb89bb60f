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

/**
 * `@EventPattern('cdc.<domain>.v<N>')` for CDC handlers: the method consumes
 * that change stream, and its errors reach RedisStreamsServer as thrown. (A
 * controller-level filter, because Nest binds a connected microservice's
 * global filters before they can be set.)
 */
export function CdcEventPattern(stream: string): MethodDecorator {
  return applyDecorators(EventPattern(stream), UseFilters(new PassHandlerErrors()));
}
