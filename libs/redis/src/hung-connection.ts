import type { Redis } from 'ioredis';

/** How ioredis rejects a command that got no answer within `commandTimeout`. */
const TIMED_OUT = 'Command timed out';

/** True when `err` is ioredis's rejection of a command that got no answer within `commandTimeout`. */
function isCommandTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === TIMED_OUT;
}

/**
 * Connects `client` again when `err` says one of its commands got no answer. A connection that hangs for good
 * (a half-open TCP connection, a middlebox that holds bytes and never lets go) is closed by nothing, and
 * ioredis's command timeout only rejects the command: every later command on it would time out too, while a
 * new connection to the same Redis works. Only from `ready`, so a burst of timed-out commands reconnects once.
 * Commands still in flight on the old connection fail (callers retry or fall back, as for any Redis error).
 * Answers whether it reconnected.
 */
export function reconnectIfHung(client: Redis, err: unknown): boolean {
  if (!isCommandTimeout(err) || client.status !== 'ready') return false;
  client.disconnect(true);
  return true;
}
