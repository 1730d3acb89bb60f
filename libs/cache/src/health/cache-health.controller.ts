import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { DomainCacheStats, DomainRegistry } from '../domain/domain-registry';

class DomainParams {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,63}$/)
  domain: string;
}

@ApiTags('health')
@Controller('health')
export class CacheHealthController {
  constructor(private readonly domains: DomainRegistry) {}

  /** Hit/miss counters and TTLs of a domain's buckets (SPEC §4). */
  @Get(':domain/cache')
  stats(@Param() { domain }: DomainParams): DomainCacheStats {
    const found = this.domains.get(domain);
    if (!found) throw new NotFoundException(`no cache domain ${domain}`);
    return found.stats();
  }
}
