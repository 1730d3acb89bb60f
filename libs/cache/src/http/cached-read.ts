import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  SetMetadata,
  Type,
  UseInterceptors,
} from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, map, Observable, of } from 'rxjs';
import { InvalidCacheKeyError } from '../cache-key';
import { DomainCache } from '../domain-cache';
import { CacheEntry } from '../entry-codec';
import { ifNoneMatchMatches } from '../etag';
import { CacheStatus } from '../two-tier-cache';

const CACHED_READ = Symbol('cachegate:cached-read');
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

interface CachedReadRoute {
  cache: Type<DomainCache>;
  bucket: string;
  key: (request: FastifyRequest) => string;
}

/**
 * Serves a GET route through a domain cache: `key` builds the cache key from
 * the raw request (the domain's key builders validate identifiers), and the
 * handler runs only on a miss, as the source read. A hit sends the stored bytes
 * and ETag without running pipes, the handler or JSON serialisation.
 */
export function CachedRead(cache: Type<DomainCache>, bucket: string, key: (request: FastifyRequest) => string) {
  return applyDecorators(
    SetMetadata(CACHED_READ, { cache, bucket, key } satisfies CachedReadRoute),
    UseInterceptors(CachedReadInterceptor),
  );
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

@Injectable()
export class CachedReadInterceptor implements NestInterceptor {
  private readonly caches = new Map<Type<DomainCache>, DomainCache>();

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const route = this.reflector.get<CachedReadRoute>(CACHED_READ, context.getHandler());
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let key: string;
    try {
      key = route.key(request);
    } catch (err) {
      // An identifier that cannot form a key: the route's validation pipe answers 400.
      if (err instanceof InvalidCacheKeyError) return next.handle();
      throw err;
    }
    const cache = this.domainCache(route.cache);
    const hit = cache.peek(route.bucket, key);
    if (hit) return of(sendEntry(request, reply, hit, 'HIT-L1'));
    return from(cache.read(route.bucket, key, () => lastValueFrom(next.handle()))).pipe(
      map((read) => sendEntry(request, reply, read.entry, read.status)),
    );
  }

  private domainCache(type: Type<DomainCache>): DomainCache {
    let cache = this.caches.get(type);
    if (!cache) {
      cache = this.moduleRef.get<DomainCache>(type, { strict: false });
      this.caches.set(type, cache);
    }
    return cache;
  }
}
