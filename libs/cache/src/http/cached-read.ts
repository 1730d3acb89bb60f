import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  OnModuleInit,
  Type,
  UseInterceptors,
} from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, map, Observable } from 'rxjs';
import { InvalidCacheKeyError } from '../cache-key';
import { DomainCache } from '../domain-cache';
import { CacheEntry } from '../entry-codec';
import { ifNoneMatchMatches } from '../etag';
import { CacheStatus } from '../two-tier-cache';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

interface CachedReadRoute {
  cache: Type<DomainCache>;
  bucket: string;
  key: (request: FastifyRequest) => string;
  /** Where the decorator sits, to check at boot that no guard is skipped by the early hit path. */
  controller: Type;
  method: string | symbol;
}

/** Every @CachedRead route of the process; CachedHits checks those of its app at boot. */
const routes: CachedReadRoute[] = [];

/**
 * Serves a GET route through a domain cache: `key` builds the cache key from
 * the raw request (the domain's key builders validate identifiers), and the
 * handler runs only on a miss, as the source read.
 *
 * A hit (L1 or L2) is answered by CachedHits in Fastify's onRequest hook,
 * before Nest's guards, pipes and interceptors; a miss reaches the route and
 * its CachedReadInterceptor. So a cached read is public: boot fails if the
 * route or its controller has a guard. Global guards are not checked: an app
 * that adds one must not use @CachedRead for what the guard protects.
 */
export function CachedRead(
  cache: Type<DomainCache>,
  bucket: string,
  key: (request: FastifyRequest) => string,
): MethodDecorator {
  return (target, method, descriptor) => {
    const route: CachedReadRoute = { cache, bucket, key, controller: target.constructor as Type, method };
    routes.push(route);
    applyDecorators(RouteConfig({ cachedRead: route }), UseInterceptors(CachedReadInterceptor))(
      target,
      method,
      descriptor,
    );
  };
}

function cachedReadOf(request: FastifyRequest): CachedReadRoute | undefined {
  return (request.routeOptions.config as { cachedRead?: CachedReadRoute }).cachedRead;
}

/** The route's cache key, or undefined for an identifier that cannot form one (the route's pipe answers 400). */
function keyOf(route: CachedReadRoute, request: FastifyRequest): string | undefined {
  try {
    return route.key(request);
  } catch (err) {
    if (err instanceof InvalidCacheKeyError) return undefined;
    throw err;
  }
}

/** Writes the cache headers and answers 304 when the client already has this representation. */
export function sendEntry(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: CacheEntry,
  status: CacheStatus,
): Buffer | undefined {
  void reply.header('content-type', JSON_CONTENT_TYPE).header('etag', entry.etag).header('x-cache', status);
  if (ifNoneMatchMatches(request.headers['if-none-match'], entry.etag)) {
    void reply.status(304);
    return undefined;
  }
  return entry.body;
}

/** Domain cache services by class, resolved once per application. */
class DomainCaches {
  private readonly resolved = new Map<Type<DomainCache>, DomainCache>();

  constructor(private readonly moduleRef: ModuleRef) {}

  get(type: Type<DomainCache>): DomainCache {
    let cache = this.resolved.get(type);
    if (!cache) this.resolved.set(type, (cache = this.moduleRef.get<DomainCache>(type, { strict: false })));
    return cache;
  }
}

/**
 * The miss path of a @CachedRead route: reads through the cache (coalesced
 * and fenced, SPEC §5.3–5.4), running the handler as the source read. L1 and
 * L2 are looked at again inside `read`, since a fill may have landed since
 * the early hook looked.
 */
@Injectable()
export class CachedReadInterceptor implements NestInterceptor {
  private readonly caches: DomainCaches;

  constructor(moduleRef: ModuleRef) {
    this.caches = new DomainCaches(moduleRef);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const route = cachedReadOf(request)!;
    const key = keyOf(route, request);
    if (key === undefined) return next.handle();
    return from(this.caches.get(route.cache).read(route.bucket, key, () => lastValueFrom(next.handle()))).pipe(
      map((read) => sendEntry(request, reply, read.entry, read.status)),
    );
  }
}

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

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    discovery: DiscoveryService,
    moduleRef: ModuleRef,
  ) {
    this.caches = new DomainCaches(moduleRef);
    // Checked while the app is created, before anything connects.
    const controllers = new Set(discovery.getControllers().map((wrapper) => wrapper.metatype));
    for (const route of routes.filter((r) => controllers.has(r.controller))) {
      const handler = route.controller.prototype[route.method] as object;
      if (Reflect.getMetadata(GUARDS_METADATA, handler) || Reflect.getMetadata(GUARDS_METADATA, route.controller)) {
        throw new Error(
          `${route.controller.name}.${String(route.method)}: @CachedRead answers hits before guards run, ` +
            'so a cached read must not be guarded',
        );
      }
    }
  }

  onModuleInit(): void {
    // Fastify binds root hooks to its routes when it gets ready, which is after this.
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => this.answerHit(request, reply, done));
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
