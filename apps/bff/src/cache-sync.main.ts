import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { connectCdcSubscriber } from '@app/cdc';
import type { EnvironmentVariables } from '@app/config';
import { exitOnBootError, useStructuredLogger } from '@app/http';
import { CacheSyncModule } from './cache-sync.module';

/**
 * A Nest application context (no HTTP) that runs the relay (CDC_RELAY) and a
 * microservice for the subscriber (CDC_SUBSCRIBER) sharing one DI container.
 */
async function main(): Promise<void> {
  // An HTTP adapter is needed to host a microservice, but it never listens. Fastify, because
  // @nestjs/platform-express (Nest's default driver) is not installed: without an adapter the boot fails.
  const app = await NestFactory.create(CacheSyncModule.forRoot(), new FastifyAdapter({ logger: false }), {
    bufferLogs: true,
    abortOnError: false,
  });
  const logger = useStructuredLogger(app);
  app.enableShutdownHooks();
  const config = app.get(ConfigService<EnvironmentVariables, true>);
  if (connectCdcSubscriber(app)) await app.startAllMicroservices();
  await app.init();
  logger.log(
    `cache-sync running (relay ${config.get('CDC_RELAY') ? 'on' : 'off'}, subscriber ${config.get('CDC_SUBSCRIBER') ? 'on' : 'off'})`,
  );
}

main().catch(exitOnBootError);
