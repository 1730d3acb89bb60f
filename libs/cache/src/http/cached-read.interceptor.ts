import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, map, Observable } from 'rxjs';
import { cachedReadOf, foundNoL2Entry, keyOf } from './cached-read-route';
import { DomainCaches } from './domain-caches';
import { sendEntry } from './send-entry';

/**
 * The miss path of a @CachedRead route: reads through the cache (coalesced
 * and fenced, docs/contract.md §5.3–5.4), running the handler as the source read. L1 is
 * looked at again inside `read`, since a fill may have landed since the early
 * hook looked; L2 only when the hook learnt nothing from it (when it found no
 * entry, the fill lease, taken only unless the entry was filled meanwhile,
 * finds a fill that landed since).
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
    if (key === undefined) return next.handle(); // the route's pipe answers 400
    const load = () => lastValueFrom(next.handle());
    return from(this.caches.get(route.cache).read(route.bucket, key, load, foundNoL2Entry(request, key))).pipe(
      map((read) => sendEntry(request, reply, read.entry, read.status)),
    );
  }
}
