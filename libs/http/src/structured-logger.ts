import { INestApplicationContext, LoggerService } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pino, { Logger, LevelWithSilent } from 'pino';
import type { EnvironmentVariables } from '@app/config';

/** Nest's logger interface over pino: JSON lines, `context` as a field, errors with their stack. */
export class StructuredLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /** Nest passes (message, [stack,] context); the context is always last. */
  private write(level: Exclude<LevelWithSilent, 'silent'>, message: unknown, rest: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    if (message instanceof Error) this.pino[level]({ context, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.pino[level]({ context, ...message });
    else this.pino[level]({ context, ...(stack ? { stack } : {}) }, String(message));
  }
}

/** Makes the app log JSON through pino at LOG_LEVEL (buffered boot logs are flushed through it). */
export function useStructuredLogger(app: INestApplicationContext): StructuredLogger {
  const level = app.get(ConfigService<EnvironmentVariables, true>).get('LOG_LEVEL');
  // Synchronous writes: Nest re-raises the shutdown signal right after its hooks, and lines
  // still buffered at that moment (the last words of a graceful stop) would be lost.
  const logger = new StructuredLogger(pino({ level }, pino.destination({ dest: 1, sync: true })));
  app.useLogger(logger);
  return logger;
}
