import type { FastifyReply, FastifyRequest } from 'fastify';
import { CacheEntry } from '../model/cache-entry';
import { CacheRead } from '../model/cache-read';
import { ifNoneMatchMatches } from '@app/http';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Writes the cache headers and answers 304 when the client already has this representation. */
export function sendEntry(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: CacheEntry,
  status: CacheRead['status'],
): Buffer | undefined {
  void reply.header('content-type', JSON_CONTENT_TYPE).header('etag', entry.etag).header('x-cache', status);
  if (ifNoneMatchMatches(request.headers['if-none-match'], entry.etag)) {
    void reply.status(304);
    return undefined;
  }
  return entry.body;
}
