import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags, SchemaObject } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { ApiErrors } from '@app/http';
import { DomainCacheStats, DomainRegistry } from '../domain/domain-registry';

const DOMAIN_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

class DomainParams {
  @ApiProperty({
    description: 'A cache domain of this application',
    pattern: DOMAIN_PATTERN.source,
    example: 'catalog',
  })
  @IsString()
  @Matches(DOMAIN_PATTERN)
  domain: string;
}

const COUNT: SchemaObject = { type: 'integer', minimum: 0 };

/** The counters of one bucket (BucketCounters). */
const BUCKET_COUNTERS: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: [
    'hits',
    'misses',
    'l1Hits',
    'l2Hits',
    'coalesced',
    'staleFillsDiscarded',
    'bypassed',
    'stale',
    'revalidatedNotModified',
    'revalidatedModified',
  ],
  properties: {
    hits: COUNT,
    misses: COUNT,
    l1Hits: COUNT,
    l2Hits: COUNT,
    coalesced: COUNT,
    staleFillsDiscarded: COUNT,
    bypassed: COUNT,
    stale: COUNT,
    revalidatedNotModified: COUNT,
    revalidatedModified: COUNT,
  },
};

@ApiTags('health')
@Controller('health')
export class CacheHealthController {
  constructor(private readonly domains: DomainRegistry) {}

  /** Hit/miss counters and TTLs of a domain's buckets (docs/contract.md §4). */
  @Get(':domain/cache')
  @ApiOkResponse({
    description: 'Counters are per process and start at zero',
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['timestamp', 'metrics', 'ttl'],
      properties: {
        timestamp: { type: 'string', format: 'date-time' },
        metrics: {
          type: 'object',
          description: "One object of counters per bucket, and `invalidations`: the domain's keys dropped",
          required: ['invalidations'],
          properties: { invalidations: COUNT },
          additionalProperties: BUCKET_COUNTERS,
        },
        ttl: {
          type: 'object',
          description: '`<bucket>Seconds` per bucket: its TTL, null when CDC alone keeps it fresh',
          additionalProperties: { type: 'number', nullable: true },
        },
      },
    },
  })
  @ApiErrors(400, { 404: 'no cache domain of that name' })
  stats(@Param() { domain }: DomainParams): DomainCacheStats {
    const found = this.domains.get(domain);
    if (!found) throw new NotFoundException(`no cache domain ${domain}`);
    return found.stats();
  }
}
