import { CanActivate, ExecutionContext, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { EnvironmentVariables } from '@app/config';

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
