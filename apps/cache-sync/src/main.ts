import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { Logger } from 'nestjs-pino';
import { createCdcServer, CdcStats } from '@app/cdc';
import type { EnvironmentVariables } from '@app/config';
import { exitOnBootError } from '@app/http';
import { CacheSyncModule } from './cache-sync.module';

/**
 * A Nest application context (no HTTP) that runs the relay (CDC_RELAY) and a
 * microservice for the subscriber (CDC_SUBSCRIBER) sharing one DI container.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create(CacheSyncModule.forRoot(), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  const config = app.get(ConfigService<EnvironmentVariables, true>);
  if (config.get('CDC_SUBSCRIBER')) {
    app.connectMicroservice({ strategy: createCdcServer(config, app.get(CdcStats)) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.init();
  app.get(Logger).log(
    `cache-sync running (relay ${config.get('CDC_RELAY') ? 'on' : 'off'}, subscriber ${config.get('CDC_SUBSCRIBER') ? 'on' : 'off'})`,
  );
}

main().catch(exitOnBootError);
