import {
  BadRequestException,
  CanActivate,
  Controller,
  Delete,
  ExecutionContext,
  Get,
  Injectable,
  NotFoundException,
  Query,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { EnvironmentVariables } from '@app/config';
import { isAdminPattern } from './cache-key';
import { CacheUnavailableError } from './cache-errors';
import { TwoTierCache } from './two-tier-cache';

/** Hash both sides so the comparison is constant-time whatever the lengths. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured the admin routes do not exist (404). */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(private readonly config: ConfigService<EnvironmentVariables, true>) {}

  canActivate(context: ExecutionContext): boolean {
    const token = this.config.get('ADMIN_TOKEN', { infer: true });
    if (!token) throw new NotFoundException();
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    if (!match || !sameSecret(match[1], token))
      throw new UnauthorizedException('a valid admin bearer token is required');
    return true;
  }
}

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
  constructor(private readonly cache: TwoTierCache) {}

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
