import { ArgumentsHost, Catch, ExceptionFilter, InternalServerErrorException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toHttpException } from './error-mapping';
import type { RouteMethods } from './method-not-allowed';

/**
 * Answers every error with Nest's `{statusCode, message, error}` body. Anything
 * unmapped is a bug: it is logged with its stack and answered with a bare 500.
 * A request that matched no route is a 405 with `Allow` when its path exists
 * with other methods (given `routes`), else a 404.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  constructor(private readonly routes?: RouteMethods) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const allowed = request.is404 ? this.routes?.allowed(request.url) : undefined;
    if (allowed) {
      void reply
        .status(405)
        .header('allow', allowed.join(', '))
        .header('content-type', 'application/json; charset=utf-8')
        .send({
          statusCode: 405,
          message: `${request.method} is not supported by ${request.url.split('?')[0]}; allowed: ${allowed.join(', ')}`,
          error: STATUS_CODES[405],
        });
      return;
    }
    let http = toHttpException(err);
    if (!http) {
      this.logger.error(
        `${request.method} ${request.url} (request ${request.id}): ${(err as Error)?.stack ?? String(err)}`,
      );
      http = new InternalServerErrorException();
    } else if (http.getStatus() === 503) {
      this.logger.warn(`answered 503: ${(err as Error).message}`);
    }
    const body = http.getResponse();
    const payload =
      typeof body === 'string'
        ? { statusCode: http.getStatus(), message: body, error: STATUS_CODES[http.getStatus()] }
        : // `new NotFoundException()` without a message has no `error`: every error body has all three fields.
          { ...body, error: (body as { error?: string }).error ?? STATUS_CODES[http.getStatus()] };
    void reply.status(http.getStatus()).header('content-type', 'application/json; charset=utf-8').send(payload);
  }
}
