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
