import { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import { httpDurationHistogram } from './metrics.module';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { RouteMethods } from './method-not-allowed';
import { setUpOpenApi } from './openapi';
import { requestId } from './request-id';
import { StructuredLogger, useStructuredLogger } from './structured-logger';
import { createValidationPipe } from './validation';

/**
 * One hook per finished response: the duration histogram (from Fastify's own
 * timing) and one log line with the request id. Below the log level the line
 * costs nothing; health probes are not logged. Fastify hooks rather than Nest
 * middleware, because middleware costs every request a middie pass.
 */
function observeResponses(app: NestFastifyApplication, logger: StructuredLogger): void {
  // Aggregated in place: a response costs three Map lookups and a bucket search, no label hash.
  const histogram = httpDurationHistogram(app.get(Registry));
  const log = logger.pino.child({ context: 'Http' });
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      const ms = reply.elapsedTime;
      histogram.series(request.method, route, status).observe(ms / 1000);
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (log.isLevelEnabled(level) && !route.startsWith('/health')) {
        log[level](
          {
            req: { id: request.id, method: request.method, url: request.url },
            res: { statusCode: status },
            responseTime: Math.round(ms),
          },
          'request completed',
        );
      }
      done();
    });
}

/** Request bodies over 100 KiB are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = 100 * 1024;

export function createFastifyAdapter(): FastifyAdapter {
  // No Nest middleware anywhere (logging and metrics are Fastify hooks): skipping middie saves every
  // request its pass. A middleware added later fails at boot, since `use` is then missing.
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    genReqId: requestId,
    skipMiddie: true,
  });
  // Echo the id so a client can quote it when reporting a problem.
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  return adapter;
}

export interface HttpAppOptions {
  title: string;
  description: string;
  version?: string;
}

/** What every cachegate HTTP app shares: logging, validation, error bodies, OpenAPI, graceful shutdown. */
export function configureHttpApp(app: NestFastifyApplication, options: HttpAppOptions): void {
  const logger = useStructuredLogger(app);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(RouteMethods.track(app)));
  app.enableShutdownHooks();
  observeResponses(app, logger);

  setUpOpenApi(app, options);
}
