import { InvalidEnvironmentError, UnsupportedSetupError } from '@app/config';
import { DatabaseUnreachableError } from '@app/database';

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
