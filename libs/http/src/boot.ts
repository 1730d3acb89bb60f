import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { InvalidEnvironmentError, UnsupportedSetupError } from '@app/config';
import { DatabaseUnreachableError } from '@app/database';

/**
 * Listens on every interface and logs the one info line that says where:
 * `cachegate BFF listening on http://localhost:3000` (the port actually bound, also for PORT=0).
 */
export async function listenAndAnnounce(app: NestFastifyApplication, port: number, name: string): Promise<void> {
  await app.listen(port, '0.0.0.0');
  const bound = (app.getHttpServer().address() as AddressInfo | null)?.port ?? port;
  new Logger('Main').log(`${name} listening on http://localhost:${bound}`);
}

/**
 * Ends a failed boot. Known causes (bad configuration, unreachable dependency)
 * print the one line that says what to do; anything else prints its stack.
 */
export function exitOnBootError(err: unknown): never {
  if (
    err instanceof InvalidEnvironmentError ||
    err instanceof UnsupportedSetupError ||
    err instanceof DatabaseUnreachableError
  ) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`boot failed: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
}
