import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { CACHE_REDIS } from '../cache.constants';
import { TwoTierCache } from '../engine/two-tier-cache';
import { L1Cache } from '../l1/l1-cache';

export const PROBE_TIMEOUT_MS = 1000;

/** Rejects when `promise` has not settled within `ms`; every health probe runs under it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Terminus indicator `redis`: a PING on the cache's own client, under a timeout. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(CACHE_REDIS) private readonly redis: Redis,
    private readonly cache: TwoTierCache,
    private readonly l1: L1Cache,
  ) {}

  async isHealthy(key = 'redis'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    if (!this.cache.enabled) return indicator.up({ message: 'cache disabled (CACHE_ENABLED=false)' });
    try {
      const started = Date.now();
      await withTimeout(this.redis.ping(), PROBE_TIMEOUT_MS, 'PING');
      return indicator.up({ latencyMs: Date.now() - started, l1: this.l1.active ? 'on' : 'off' });
    } catch (err) {
      return indicator.down({ message: (err as Error).message, connection: this.redis.status });
    }
  }
}
