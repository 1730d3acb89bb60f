import { Injectable, OnModuleInit } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CachedReadRoute, cachedReadOf, cachedReadRoutes, keyOf } from './cached-read-route';
import { DomainCaches } from './domain-caches';
import { sendEntry } from './send-entry';

/**
 * Answers @CachedRead hits in Fastify's onRequest hook, before the request
 * enters Nest. A hit needs no pipes, handler or serialisation, and Nest's pass
 * over an intercepted route (execution context, an rxjs chain, a disconnect
 * watch) cost more than the hit itself: L1 hits ran at 0.6-0.7x a bare Nest
 * route through the interceptor, and at about 1x from here (docs/BENCHMARKS.md).
 * Anything but a hit (a miss, a bad identifier, Redis unavailable, an
 * unexpected error) falls through to the route, which reads through the cache
 * or answers the error.
 */
@Injectable()
export class CachedHits implements OnModuleInit {
  private readonly caches: DomainCaches;
  private readonly routes: CachedReadRoute[];

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    discovery: DiscoveryService,
    moduleRef: ModuleRef,
  ) {
    this.caches = new DomainCaches(moduleRef);
    const controllers = new Set(discovery.getControllers().map((wrapper) => wrapper.metatype));
    this.routes = cachedReadRoutes.filter((r) => controllers.has(r.controller));
    // Checked while the app is created, before anything connects.
    for (const route of this.routes) assertUnguarded(route);
  }

  onModuleInit(): void {
    // Domain caches exist now; a hit must never be answered without the checks its bucket needs.
    for (const route of this.routes) this.assertAnswerable(route);
    // Fastify binds root hooks to its routes when it gets ready, which is after this.
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => this.answerHit(request, reply, done));
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

  private answerHit(request: FastifyRequest, reply: FastifyReply, next: () => void): void {
    const route = cachedReadOf(request);
    if (!route) return next();
    let key: string | undefined;
    try {
      key = keyOf(route, request);
    } catch {
      return next(); // the route's own call of the key builder reports it
    }
    if (key === undefined) return next();
    const cache = this.caches.get(route.cache);
    const l1 = cache.peek(route.bucket, key);
    if (l1) return void reply.send(sendEntry(request, reply, l1, 'HIT-L1'));
    cache.lookup(route.bucket, key).then(
      (l2) => (l2 ? void reply.send(sendEntry(request, reply, l2, 'HIT-L2')) : next()),
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
