/**
 * Cache keys are `domain:type:identifier[:subkey]` (SPEC §5.1). Every segment is
 * checked here, before a key exists, so no request can smuggle `*`, `?`, `[`,
 * spaces or `:` (and with it another domain's prefix) into a Redis name or a
 * SCAN pattern.
 */

const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An identifier that cannot be part of a key; a cached route then lets its validation pipe answer 400. */
export class InvalidCacheKeyError extends Error {
  override readonly name = 'InvalidCacheKeyError';
}

function segment(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SEGMENT.test(value)) {
    throw new InvalidCacheKeyError(`${what} cannot be used in a cache key: ${JSON.stringify(value)}`);
  }
  return value;
}

export function cacheKey(domain: string, type: string, identifier?: unknown, subkey?: unknown): string {
  let key = `${segment(domain, 'domain')}:${segment(type, 'type')}`;
  if (identifier !== undefined) key += `:${segment(identifier, 'identifier')}`;
  if (subkey !== undefined) key += `:${segment(subkey, 'subkey')}`;
  return key;
}

/** A UUID identifier in its canonical lower-case form (upper- and lower-case ids share one entry). */
export function uuidSegment(value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value))
    throw new InvalidCacheKeyError(`not a UUID: ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/** An identifier that must match a domain's own pattern (slug, account id). */
export function patternSegment(value: unknown, pattern: RegExp): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidCacheKeyError(`does not match ${pattern}: ${JSON.stringify(value)}`);
  }
  return value;
}

/** Dependency set names: `catalog:deps:product:<id>`. */
export function dependencyKey(domain: string, type: string, identifier: string): string {
  return cacheKey(domain, 'deps', type, identifier);
}

/**
 * Admin patterns may use `*` and `?` but must stay inside one domain
 * (`orders:*`, `catalog:product:*`), so a flush cannot reach leases, fences
 * or another deployment's names.
 */
export function isAdminPattern(pattern: string): boolean {
  return /^[a-z][a-z0-9-]*:[A-Za-z0-9_:*?-]{1,200}$/.test(pattern) && !pattern.startsWith('cache:');
}
