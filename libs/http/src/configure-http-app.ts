import { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { Registry } from 'prom-client';
import { httpDurationHistogram } from './metrics.module';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { requestId } from './request-id';
import { createValidationPipe } from './validation';

/** Feeds the request duration histogram from Fastify's own timing (one observe per response). */
function recordRequestDurations(app: NestFastifyApplication): void {
  const histogram = httpDurationHistogram(app.get(Registry));
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      histogram.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
      done();
    });
}

/** Request bodies over 100 KiB are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = 100 * 1024;

export function createFastifyAdapter(): FastifyAdapter {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, logger: false, genReqId: requestId });
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
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  app.enableShutdownHooks();
  recordRequestDurations(app);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(options.title)
      .setDescription(options.description)
      .setVersion(options.version ?? '1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
}
