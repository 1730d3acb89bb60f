import { Injectable, OnModuleInit } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import type { DomainCache } from '../domain/domain-cache';
import { CachedReadRoute, cachedReadRoutes, keyOf, noteL2Miss } from './cached-read-route';
import { DomainCaches } from './domain-caches';
import { writeHit } from './send-entry';

/**
 * Answers @CachedRead hits in Fastify's onRequest hook, before the request
 * enters Nest. A hit needs no pipes, handler or serialisation, and Nest's pass
 * over an intercepted route (execution context, an rxjs chain, a disconnect
 * watch) cost more than the hit itself: L1 hits ran at 0.6-0.7x a bare Nest
 * route through the interceptor, and at about 1x from here (docs/BENCHMARKS.md).
 * Anything but a hit (a miss, a bad identifier, Redis unavailable, an
 * unexpected error) falls through to the route, which reads through the cache
 * or answers the error.
 *
 * The hook is the route's own (Fastify's route-level onRequest, added as each
 * @CachedRead route is registered): it runs after the app's root onRequest
 * hooks (the request id), only for its route, with the route and its domain
 * cache at hand, so other routes pay nothing and a hit no lookup of its route.
 */
@Injectable()
export class CachedHits implements OnModuleInit {
  private readonly caches: DomainCaches;
  private readonly routes: CachedReadRoute[];

  constructor(adapterHost: HttpAdapterHost, discovery: DiscoveryService, moduleRef: ModuleRef) {
    this.caches = new DomainCaches(moduleRef);
    const controllers = new Set(discovery.getControllers().map((wrapper) => wrapper.metatype));
    this.routes = cachedReadRoutes.filter((r) => controllers.has(r.controller));
    // Checked while the app is created, before anything connects.
    for (const route of this.routes) assertUnguarded(route);
    // Nest registers the routes when the app initialises, after its providers are created.
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRoute', (options) => this.attach(options));
  }

  onModuleInit(): void {
    // Domain caches exist now; a hit must never be answered without the checks its bucket needs.
    for (const route of this.routes) this.assertAnswerable(route);
  }

  /** Adds the early-hit hook to a @CachedRead route (its GET and Fastify's HEAD twin) as Fastify registers it. */
  private attach(options: RouteOptions): void {
    const route = (options.config as { cachedRead?: CachedReadRoute } | undefined)?.cachedRead;
    if (!route) return;
    const own = options.onRequest === undefined ? [] : ([] as onRequestHookHandler[]).concat(options.onRequest);
    options.onRequest = [...own, this.earlyHit(route)];
  }

  private assertAnswerable(route: CachedReadRoute): void {
    const bucket = this.caches.get(route.cache).buckets[route.bucket];
    if (!bucket) throw new Error(`${routeName(route)}: @CachedRead names no bucket ${route.bucket}`);
    if (bucket.strategy === 'ttl') {
      throw new Error(
        `${routeName(route)}: @CachedRead cannot serve the ttl bucket ${route.bucket}: its entries must be ` +
          'revalidated on every read after their TTL, so read it with DomainCache.readRevalidating',
      );
    }
  }

  private earlyHit(route: CachedReadRoute): onRequestHookHandler {
    let cache: DomainCache | undefined;
    return (request, reply, next) =>
      this.answerHit(route, (cache ??= this.caches.get(route.cache)), request, reply, next);
  }

  private answerHit(
    route: CachedReadRoute,
    cache: DomainCache,
    request: FastifyRequest,
    reply: FastifyReply,
    next: () => void,
  ): void {
    let key: string | undefined;
    try {
      key = keyOf(route, request);
    } catch {
      return next(); // the route's own call of the key builder reports it
    }
    if (key === undefined) return next();
    const l1 = cache.peek(route.bucket, key);
    if (l1) return writeHit(request, reply, l1, 'HIT-L1');
    cache.lookup(route.bucket, key).then(
      (l2) => {
        if (l2) return writeHit(request, reply, l2, 'HIT-L2');
        // The route's read goes straight to the fill lease (TwoTierCache.read): one Redis round trip less per miss.
        if (l2 === null) noteL2Miss(request, key);
        next();
      },
      () => next(),
    );
  }
}

function routeName(route: CachedReadRoute): string {
  return `${route.controller.name}.${String(route.method)}`;
}

/** Hits skip guards, so a guarded cached read would be served to anyone: refuse it at boot. */
function assertUnguarded(route: CachedReadRoute): void {
  const handler = route.controller.prototype[route.method] as object;
  if (Reflect.getMetadata(GUARDS_METADATA, handler) || Reflect.getMetadata(GUARDS_METADATA, route.controller)) {
    throw new Error(
      `${routeName(route)}: @CachedRead answers hits before guards run, so a cached read must not be guarded`,
    );
  }
}
