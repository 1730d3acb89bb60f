import { Type } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { DomainCache } from '../domain/domain-cache';
import { InvalidCacheKeyError } from '../model/cache-key';

/** What @CachedRead records about a route, in Fastify's route config and in `cachedReadRoutes`. */
export interface CachedReadRoute {
  cache: Type<DomainCache>;
  bucket: string;
  key: (request: FastifyRequest) => string;
  /** Where the decorator sits, so CachedHits can check the route at boot. */
  controller: Type;
  method: string | symbol;
}

/** Every @CachedRead route of the process; CachedHits checks those of its app at boot. */
export const cachedReadRoutes: CachedReadRoute[] = [];

export function cachedReadOf(request: FastifyRequest): CachedReadRoute | undefined {
  return (request.routeOptions.config as { cachedRead?: CachedReadRoute }).cachedRead;
}

/** The route's cache key, or undefined for an identifier that cannot form one (the route's pipe answers 400). */
export function keyOf(route: CachedReadRoute, request: FastifyRequest): string | undefined {
  try {
    return route.key(request);
  } catch (err) {
    if (err instanceof InvalidCacheKeyError) return undefined;
    throw err;
  }
}

/** Requests whose early hook found no L2 entry, with the key it looked for (CachedHits → CachedReadInterceptor). */
const l2Misses = new WeakMap<FastifyRequest, string>();

/** Records that the early hook has just found no L2 entry for `key`: the route's read need not ask Redis again. */
export function noteL2Miss(request: FastifyRequest, key: string): void {
  l2Misses.set(request, key);
}

/** Whether the early hook of this request found no L2 entry for `key`. */
export function foundNoL2Entry(request: FastifyRequest, key: string): boolean {
  return l2Misses.get(request) === key;
}
