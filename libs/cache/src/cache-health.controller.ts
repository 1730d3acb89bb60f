import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { DomainCacheStats } from './domain-cache';
import { TwoTierCache } from './two-tier-cache';

class DomainParams {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,63}$/)
  domain: string;
}

@ApiTags('health')
@Controller('health')
export class CacheHealthController {
  constructor(private readonly cache: TwoTierCache) {}

  /** Hit/miss counters and TTLs of a domain's buckets (SPEC §4). */
  @Get(':domain/cache')
  stats(@Param() { domain }: DomainParams): DomainCacheStats {
    const found = this.cache.domains.get(domain);
    if (!found) throw new NotFoundException(`no cache domain ${domain}`);
    return found.stats();
  }
}
