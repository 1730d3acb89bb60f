import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { CacheUnavailableError } from '../model/cache-errors';
import { AdminTokenGuard } from './admin-token.guard';
import { CacheAdmin, InvalidAdminPatternError } from './cache-admin';

class PatternQuery {
  /**
   * A glob over this deployment's cache keys: it starts with one of its cache
   * domains and `:` (`orders:*`, `catalog:product:*`), at most 256 characters
   * and 8 wildcards (`*`, `?`).
   */
  @ApiProperty({
    description: "A glob within one of this deployment's cache domains: at most 256 characters and 8 wildcards (* ?)",
    example: 'orders:*',
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
@UseGuards(AdminTokenGuard)
@Controller('admin/cache')
export class CacheAdminController {
  constructor(private readonly cache: CacheAdmin) {}

  /** Keys and bytes held in Redis under a pattern (SCAN + MEMORY USAGE, never KEYS). */
  @Get('usage')
  async usage(@Query() { pattern }: PatternQuery): Promise<{ pattern: string; keys: number; bytes: number }> {
    const report = await answer(() => this.cache.usage(pattern));
    return { pattern, ...report };
  }

  /** Deletes entries under a pattern from Redis and from every instance's L1 (dependency sets stay). */
  @Delete()
  async flush(@Query() { pattern }: PatternQuery): Promise<{ deleted: number }> {
    return { deleted: await answer(() => this.cache.flush(pattern)) };
  }
}
