import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { isAdminPattern } from '../model/cache-key';
import { CacheUnavailableError } from '../model/cache-errors';
import { AdminTokenGuard } from './admin-token.guard';
import { CacheAdmin } from './cache-admin';

class PatternQuery {
  /** A pattern within one domain, e.g. `orders:*` or `catalog:product:*`. */
  @IsString()
  pattern: string;
}

function checked(pattern: string): string {
  if (!isAdminPattern(pattern)) {
    throw new BadRequestException(
      'pattern must name one domain and use only letters, digits, _ - : * ? (e.g. orders:*)',
    );
  }
  return pattern;
}

async function orUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
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
    const report = await orUnavailable(this.cache.usage(checked(pattern)));
    return { pattern, ...report };
  }

  /** Deletes entries under a pattern from Redis and from every instance's L1. */
  @Delete()
  async flush(@Query() { pattern }: PatternQuery): Promise<{ deleted: number }> {
    return { deleted: await orUnavailable(this.cache.flush(checked(pattern))) };
  }
}
