import { ConfigService } from '@nestjs/config';
import type { EnvironmentVariables } from '@app/config';
import { exitOnBootError, listenAndAnnounce } from '@app/http';
import { createBillingApp } from './billing-app';

async function main(): Promise<void> {
  const app = await createBillingApp();
  const port = app.get(ConfigService<EnvironmentVariables, true>).get('BILLING_PORT', { infer: true });
  await listenAndAnnounce(app, port, 'cachegate billing');
}

main().catch(exitOnBootError);
