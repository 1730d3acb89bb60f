import {
  applyDecorators,
  CallHandler,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import {
  ApiConflictResponse,
  ApiHeader,
  ApiServiceUnavailableResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable, tap } from 'rxjs';
import {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyContext,
  parseIdempotencyKey,
  REPLAYED_HEADER,
  requestHash,
} from './idempotency-key';

/** Where the interceptor leaves the request's IdempotencyContext for the @IdempotencyKey() parameter. */
const CONTEXT = Symbol('idempotency');
type WithContext = FastifyRequest & { [CONTEXT]?: IdempotencyContext };

/**
 * Reads and checks the `Idempotency-Key` header (400 when malformed), identifies
 * the request (route, hash of method + path + body), hands that to the handler
 * through @IdempotencyKey(), and marks a replayed answer with
 * `Idempotent-Replayed: true`. Deciding and storing happen in the write's own
 * transaction (IdempotencyService.transaction).
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<WithContext>();
    const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
    if (key === undefined) return next.handle();
    const idempotency: IdempotencyContext = {
      key,
      route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      requestHash: requestHash(request.method, request.url, request.body),
      statusCode:
        this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ??
        (request.method === 'POST' ? 201 : 200),
      replayed: false,
    };
    request[CONTEXT] = idempotency;
    return next.handle().pipe(
      tap(() => {
        if (idempotency.replayed) context.switchToHttp().getResponse<FastifyReply>().header(REPLAYED_HEADER, 'true');
      }),
    );
  }
}

/** The request's IdempotencyContext (undefined without a key), for IdempotencyService.transaction. */
export const IdempotencyKey = createParamDecorator(
  (_: unknown, context: ExecutionContext): IdempotencyContext | undefined =>
    context.switchToHttp().getRequest<WithContext>()[CONTEXT],
);

/**
 * Makes a creating POST idempotent: the interceptor above plus its OpenAPI
 * description. `conflict` and `unprocessable` name the route's own 409 and 422
 * reasons, which the key's are added to.
 */
export function Idempotent(reasons: { conflict: string; unprocessable?: string }): MethodDecorator {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Makes the request safe to retry. The first request with a key runs and its answer is stored with the key, ' +
        'in the same transaction, for IDEMPOTENCY_TTL (default 24h). A repeat with the same key and body answers the ' +
        `stored status and body with \`${REPLAYED_HEADER}: true\` and writes nothing. A key belongs to this route.`,
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
    }),
    ApiConflictResponse({
      description: `${reasons.conflict}; or a request with the same Idempotency-Key is still in progress`,
    }),
    ApiUnprocessableEntityResponse({
      description: [reasons.unprocessable, 'the Idempotency-Key was already used with a different request']
        .filter(Boolean)
        .join('; or '),
    }),
    ApiServiceUnavailableResponse({
      description:
        'database unavailable. When the connection failed while the write was committing, the message says the ' +
        'write may have been applied: retry with the same Idempotency-Key to get its answer without writing twice.',
    }),
  );
}
