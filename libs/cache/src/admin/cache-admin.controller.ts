import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { ApiErrors } from '@app/http';
import { CacheUnavailableError } from '../model/cache-errors';
import { ADMIN_PATTERN_MAX_LENGTH } from '../model/cache-key';
import { AdminTokenGuard } from './admin-token.guard';
import { CacheAdmin, InvalidAdminPatternError } from './cache-admin';

class PatternQuery {
  /**
   * A glob over this deployment's cache keys: it starts with one of its cache
   * domains and `:` (`orders:*`, `catalog:product:*`), at most 256 characters
   * and 8 wildcards (`*`, `?`).
   */
  @ApiProperty({
    description:
      "A glob within one of this deployment's cache domains (`<domain>:` first, literally; not `<domain>:deps:…`): " +
      'at most 256 characters and 8 wildcards (* ?); anything else is a 400 naming the rule broken',
    example: 'orders:*',
    // adminPatternProblem (model/cache-key.ts) checks the rest.
    pattern: '^[A-Za-z0-9_:*?-]+$',
    minLength: 3,
    maxLength: ADMIN_PATTERN_MAX_LENGTH,
  })
  @IsString()
  pattern: string;
}

/** Refused patterns answer 400 with the reason; an unreachable Redis 503. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof InvalidAdminPatternError) throw new BadRequestException(err.message);
    if (err instanceof CacheUnavailableError) throw new ServiceUnavailableException('cache unavailable');
    throw err;
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@ApiErrors(
  { 400: 'The pattern is missing or refused; the message names the rule broken' },
  401,
  { 404: 'Admin routes are off: ADMIN_TOKEN is not set' },
  { 503: 'cache unavailable: Redis cannot be reached' },
)
@UseGuards(AdminTokenGuard)
@Controller('admin/cache')
export class CacheAdminController {
  constructor(private readonly cache: CacheAdmin) {}

  /** Keys and bytes held in Redis under a pattern (SCAN + MEMORY USAGE, never KEYS). */
  @Get('usage')
  @ApiOkResponse({
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['pattern', 'keys', 'bytes'],
      properties: {
        pattern: { type: 'string' },
        keys: { type: 'integer', minimum: 0, description: 'Entries under the pattern' },
        bytes: { type: 'integer', minimum: 0, description: 'Their MEMORY USAGE' },
      },
    },
  })
  async usage(@Query() { pattern }: PatternQuery): Promise<{ pattern: string; keys: number; bytes: number }> {
    const report = await answer(() => this.cache.usage(pattern));
    return { pattern, ...report };
  }

  /** Deletes entries under a pattern from Redis and from every instance's L1 (dependency sets stay). */
  @Delete()
  @ApiOkResponse({
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['deleted'],
      properties: { deleted: { type: 'integer', minimum: 0, description: 'Entries deleted from Redis' } },
    },
  })
  async flush(@Query() { pattern }: PatternQuery): Promise<{ deleted: number }> {
    return { deleted: await answer(() => this.cache.flush(pattern)) };
  }
}
