/**
 * Cache keys are `domain:type:identifier[:subkey]` (docs/contract.md §5.1). Every segment is
 * checked here, before a key exists, so no request can smuggle `*`, `?`, `[`,
 * spaces or `:` (and with it another domain's prefix) into a Redis name or a
 * SCAN pattern.
 */

import { globMatch, wildcardCount } from './glob';

const SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;
/** The type segment of dependency set names (`catalog:deps:product:<id>`). */
const DEPENDENCY_TYPE = 'deps';
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
  return cacheKey(domain, DEPENDENCY_TYPE, type, identifier);
}

/** Longest admin pattern accepted (docs/contract.md §4). */
export const ADMIN_PATTERN_MAX_LENGTH = 256;
/** Most wildcards (`*`, `?`) an admin pattern may hold (docs/contract.md §4). */
export const ADMIN_PATTERN_MAX_WILDCARDS = 8;
/** What keys are made of (segments and `:`), plus the two wildcards: never `[`, `]`, `\`, `^` or spaces. */
const ADMIN_PATTERN_CHARS = /^[A-Za-z0-9_:*?-]+$/;

/**
 * Why an admin pattern (GET /admin/cache/usage, DELETE /admin/cache) is
 * refused, or undefined when it is acceptable. It must start with one of
 * `domains` (this deployment's registered cache domains) and `:`, literally,
 * so that under any CACHE_KEY_PREFIX (empty included) the pattern is anchored
 * inside this deployment's own entries: streams (`cdc.*`), the cache's own
 * `cache:*` names and another deployment's names (`adv:*`) cannot match. At
 * most 256 characters and 8 wildcards, of the characters keys are made of.
 * `<domain>:deps:…` names only dependency sets, which are never flushed
 * (adminPatternMatches).
 */
export function adminPatternProblem(pattern: unknown, domains: readonly string[]): string | undefined {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'pattern is required (e.g. orders:*)';
  if (pattern.length > ADMIN_PATTERN_MAX_LENGTH)
    return `pattern is ${pattern.length} characters long; at most ${ADMIN_PATTERN_MAX_LENGTH} are allowed`;
  if (!ADMIN_PATTERN_CHARS.test(pattern))
    return 'pattern may contain only letters, digits and _ - : and the wildcards * ?';
  const wildcards = wildcardCount(pattern);
  if (wildcards > ADMIN_PATTERN_MAX_WILDCARDS)
    return `pattern has ${wildcards} wildcards (* or ?); at most ${ADMIN_PATTERN_MAX_WILDCARDS} are allowed`;
  const [domain, type] = pattern.split(':');
  // `<domain>:` literally, then something to match: the pattern is anchored inside the domain's keys.
  if (type === undefined || pattern.length === domain.length + 1 || !domains.includes(domain) || domain === 'cache') {
    return `pattern must start with one of this deployment's cache domains (${domains.join(', ')}) and ':', then what to match (e.g. orders:*)`;
  }
  if (type === DEPENDENCY_TYPE)
    return `dependency sets (${domain}:deps:*) cannot be flushed: views cached under them could no longer be invalidated`;
  return undefined;
}

export function isAdminPattern(pattern: unknown, domains: readonly string[]): boolean {
  return adminPatternProblem(pattern, domains) === undefined;
}

/**
 * Whether an admin pattern reaches `key` (a Redis name with the prefix taken
 * off): the glob matches it (globMatch, linear time) and it is shaped like a
 * cache entry (`domain:type[:identifier[:subkey]]`, cacheKey's segments) that
 * is not a dependency set. Names SCAN MATCH returned are checked again with
 * this before anything is counted or deleted: Redis's matcher is not ours.
 *
 * Dependency sets are skipped, never deleted: a view cached under a deleted
 * set could no longer be found by the change that makes it stale. Left
 * behind when their views go, they only name keys that are no longer there.
 */
export function adminPatternMatches(pattern: string, key: string): boolean {
  if (!globMatch(pattern, key)) return false;
  const segments = key.split(':');
  return (
    segments.length >= 2 &&
    segments.length <= 4 &&
    segments.every((s) => SEGMENT.test(s)) &&
    segments[1] !== DEPENDENCY_TYPE
  );
}
