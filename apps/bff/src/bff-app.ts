import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfigOptions } from '@app/config';
import { connectCdcSubscriber } from '@app/cdc';
import { configureHttpApp, createFastifyAdapter } from '@app/http';
import { AppModule } from './app.module';

/** Builds the BFF exactly as main.ts runs it; tests use the same function and `inject`. */
export async function createBffApp(options: AppConfigOptions = {}): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), createFastifyAdapter(), {
    bufferLogs: true,
    abortOnError: false,
  });
  configureHttpApp(app, {
    title: 'cachegate BFF',
    description:
      'Catalog, orders and invoices: catalog and orders read through a two-tier cache invalidated by CDC events, ' +
      'invoices from the billing service cached with a TTL and revalidated with ETags.',
  });
  // CDC_SUBSCRIBER (default on): the domain modules' @EventPattern handlers consume the change streams.
  connectCdcSubscriber(app);
  return app;
}
