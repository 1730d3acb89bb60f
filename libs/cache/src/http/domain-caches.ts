import { Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DomainCache } from '../domain/domain-cache';

/**
 * Domain cache services by class, resolved once per application. Decorator
 * metadata is shared by every app in a process, so the instance cannot live
 * on the route: each app's interceptor and hook keep their own map.
 */
export class DomainCaches {
  private readonly resolved = new Map<Type<DomainCache>, DomainCache>();

  constructor(private readonly moduleRef: ModuleRef) {}

  get(type: Type<DomainCache>): DomainCache {
    let cache = this.resolved.get(type);
    if (!cache) this.resolved.set(type, (cache = this.moduleRef.get<DomainCache>(type, { strict: false })));
    return cache;
  }
}
