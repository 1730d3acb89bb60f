import { ArgumentsHost, Catch, ExceptionFilter, InternalServerErrorException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toHttpException } from './error-mapping';

/**
 * Answers every error with Nest's `{statusCode, message, error}` body. Anything
 * unmapped is a bug: it is logged with its stack and answered with a bare 500.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
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
        : body;
    void reply.status(http.getStatus()).header('content-type', 'application/json; charset=utf-8').send(payload);
  }
}
