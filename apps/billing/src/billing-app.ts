import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfigOptions } from '@app/config';
import { configureHttpApp, createFastifyAdapter } from '@app/http';
import { BillingModule } from './billing.module';

/** Builds the billing service exactly as main.ts runs it; tests use the same function. */
export async function createBillingApp(options: AppConfigOptions = {}): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(BillingModule.forRoot(options), createFastifyAdapter(), {
    bufferLogs: true,
    abortOnError: false,
  });
  configureHttpApp(app, {
    title: 'cachegate billing',
    description:
      'Invoices per account: the upstream service the BFF invoices domain calls, revalidating its cached lists with ETags.',
  });
  return app;
}
