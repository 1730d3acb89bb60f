import { applyDecorators, Type, UseInterceptors } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { ApiCachedRead } from '@app/http';
import type { DomainCache } from '../domain/domain-cache';
import { CachedReadRoute, cachedReadRoutes } from './cached-read-route';
import { CachedReadInterceptor } from './cached-read.interceptor';

/**
 * Serves a GET route through a domain cache: `key` builds the cache key from
 * the raw request (the domain's key builders validate identifiers), and the
 * handler runs only on a miss, as the source read.
 *
 * A hit (L1 or L2) is answered by CachedHits in Fastify's onRequest hook,
 * before Nest's guards, pipes and interceptors; a miss reaches the route and
 * its CachedReadInterceptor. So a cached read is public: boot fails if the
 * route or its controller has a guard. Global guards are not checked: an app
 * that adds one must not use @CachedRead for what the guard protects. Only
 * `cdc` and `hybrid` buckets can be read this way (boot fails for a `ttl`
 * bucket, whose freshness is decided per read by revalidation). The route's
 * OpenAPI operation documents If-None-Match, the 304 and the ETag / X-Cache headers.
 */
export function CachedRead(
  cache: Type<DomainCache>,
  bucket: string,
  key: (request: FastifyRequest) => string,
): MethodDecorator {
  return (target, method, descriptor) => {
    const route: CachedReadRoute = { cache, bucket, key, controller: target.constructor as Type, method };
    cachedReadRoutes.push(route);
    applyDecorators(RouteConfig({ cachedRead: route }), UseInterceptors(CachedReadInterceptor), ApiCachedRead())(
      target,
      method,
      descriptor,
    );
  };
}
