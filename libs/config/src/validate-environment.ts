import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { EnvironmentVariables } from './environment-variables';

/** Thrown at boot for a bad environment; its message is the one line an operator needs. */
export class InvalidEnvironmentError extends Error {
  override readonly name = 'InvalidEnvironmentError';
}

function firstMessages(errors: ValidationError[]): string[] {
  return errors.map((e) => Object.values(e.constraints ?? {})[0] ?? `${e.property} is invalid`);
}

/**
 * Turns raw environment strings into a typed, validated EnvironmentVariables.
 * Empty strings count as unset, so `ADMIN_TOKEN=` in a .env file means "no token".
 */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== '' && v !== undefined));
  const env = plainToInstance(EnvironmentVariables, present, {
    excludeExtraneousValues: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(env, { skipMissingProperties: false });
  if (errors.length > 0) {
    throw new InvalidEnvironmentError(`Invalid configuration: ${firstMessages(errors).join('; ')}`);
  }
  return env;
}
