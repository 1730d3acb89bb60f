import { ConfigService } from '@nestjs/config';
import type { EnvironmentVariables } from '@app/config';
import { exitOnBootError } from '@app/http';
import { createBffApp } from './bff-app';

async function main(): Promise<void> {
  const app = await createBffApp();
  const port = app.get(ConfigService<EnvironmentVariables, true>).get('PORT', { infer: true });
  await app.startAllMicroservices();
  await app.listen(port, '0.0.0.0');
}

main().catch(exitOnBootError);
