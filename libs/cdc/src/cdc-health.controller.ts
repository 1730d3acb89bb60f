import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiTags, SchemaObject } from '@nestjs/swagger';
import { ApiErrors } from '@app/http';
import { CdcHealthService, CdcReport } from './cdc-health.service';

const COUNT: SchemaObject = { type: 'integer', minimum: 0 };
const MS: SchemaObject = { type: 'number', minimum: 0, nullable: true };
const closed = (properties: Record<string, SchemaObject>, description?: string): SchemaObject => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
  ...(description ? { description } : {}),
});

/** CdcReport (cdc-health.service.ts) as a schema. */
const CDC_REPORT = closed({
  timestamp: { type: 'string', format: 'date-time' },
  streams: {
    type: 'object',
    description: 'Per stream this process consumes (dual-published ones too), e.g. `cdc.catalog.v1`',
    additionalProperties: closed({
      length: COUNT,
      lastDeliveredId: { type: 'string', nullable: true },
      pending: COUNT,
      lag: { ...COUNT, nullable: true, description: 'Entries not yet delivered to the group (null before Redis 7)' },
      deadLetters: COUNT,
    }),
  },
  capture: closed({
    off: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Captured tables (`schema.table`) with a capture trigger disabled or dropped: their changes reach no cache',
    },
    resumeDrops: {
      type: 'boolean',
      description:
        'Whether capture switched on again drops the views it missed (the event trigger cachegate_capture_resumed, created by a superuser)',
    },
  }),
  totals: closed({ processed: COUNT, failed: COUNT, deadLettered: COUNT, redelivered: COUNT, trimmed: COUNT }),
  relay: closed({
    backlog: COUNT,
    oldestUnpublishedAgeMs: MS,
    lastPublishedAt: { type: 'string', format: 'date-time', nullable: true },
    activeHere: { type: 'boolean' },
    lastPublishError: {
      ...closed({ message: { type: 'string' }, at: { type: 'string', format: 'date-time' }, oom: { type: 'boolean' } }),
      nullable: true,
    },
  }),
  invalidationLagMs: closed({ p50: MS, p99: MS, max: MS }),
});

@ApiTags('health')
@Controller('health')
export class CdcHealthController {
  constructor(private readonly cdc: CdcHealthService) {}

  /** Streams, consumer group, relay backlog and invalidation lag (docs/contract.md §4). */
  @Get('cdc')
  @ApiOkResponse({ schema: CDC_REPORT })
  @ApiErrors({ 503: 'cdc state unavailable: Redis or PostgreSQL cannot be read' })
  async report(): Promise<CdcReport> {
    try {
      return await this.cdc.report();
    } catch (err) {
      throw new ServiceUnavailableException(`cdc state unavailable: ${(err as Error).message}`);
    }
  }
}
