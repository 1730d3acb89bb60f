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

/**
 * Response headers of an L1 hit, per entry: built on its first hit and reused while it lives in
 * L1 (entries are immutable; a changed view is a new entry). Slot 1 holds the request id.
 */
const l1HitHeaders = new WeakMap<CacheEntry, string[]>();

/** A hit's headers as Node's flat `[name, value, …]` list, in the order sendEntry's reply sends them. */
function hitHeaders(entry: CacheEntry, status: 'HIT-L1' | 'HIT-L2', notModified: boolean): string[] {
  const headers = ['x-request-id', '', 'content-type', JSON_CONTENT_TYPE, 'etag', entry.etag, 'x-cache', status];
  if (!notModified) headers.push('content-length', String(entry.body.length));
  return headers;
}

/**
 * Answers a hit from the early hook with what sendEntry's reply would send (x-request-id,
 * content-type, etag, x-cache, content-length; 304 without a body when If-None-Match matches),
 * written straight to Node's response: one writeHead with a precomputed header list and one end
 * with the stored bytes, without Fastify's send path (content-type parsing, header object,
 * length check). Fastify's onResponse hooks still run when the response finishes (log line,
 * histogram). Only the request id is taken from the request: headers other hooks put on
 * Fastify's reply are not sent (set them on `reply.raw`, which writeHead merges, as Nest's
 * CORS hook does).
 */
export function writeHit(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: CacheEntry,
  status: 'HIT-L1' | 'HIT-L2',
): void {
  void reply.hijack();
  const ifNoneMatch = request.raw.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, entry.etag)) {
    const headers = hitHeaders(entry, status, true);
    headers[1] = request.id;
    reply.raw.writeHead(304, headers);
    reply.raw.end();
    return;
  }
  let headers = status === 'HIT-L1' ? l1HitHeaders.get(entry) : undefined;
  if (headers === undefined) {
    headers = hitHeaders(entry, status, false);
    if (status === 'HIT-L1') l1HitHeaders.set(entry, headers);
  }
  // The shared list is safe to fill in: writeHead renders it synchronously, before any other hit runs.
  headers[1] = request.id;
  reply.raw.writeHead(200, headers);
  reply.raw.end(entry.body);
}
