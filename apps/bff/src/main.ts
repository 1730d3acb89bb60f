import { ConfigService } from '@nestjs/config';
import type { EnvironmentVariables } from '@app/config';
import { exitOnBootError, listenAndAnnounce } from '@app/http';
import { createBffApp } from './bff-app';

async function main(): Promise<void> {
  const app = await createBffApp();
  const port = app.get(ConfigService<EnvironmentVariables, true>).get('PORT', { infer: true });
  await app.startAllMicroservices();
  await listenAndAnnounce(app, port, 'cachegate BFF');
}

main().catch(exitOnBootError);
