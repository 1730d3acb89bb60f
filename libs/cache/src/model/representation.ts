import { PreconditionFailedException } from '@nestjs/common';
import type { CacheEntry } from './cache-entry';
import { computeEtag, ifMatchMatches } from '@app/http';

/** The bytes a cached GET sends for a view: the one serialisation used by fills and by If-Match checks. */
export function serializeView(view: unknown): Buffer {
  return Buffer.from(JSON.stringify(view));
}

/** Serialises a view once; the bytes and their ETag are what every later hit sends. */
export function toEntry(view: unknown, storedAt: number, upstreamEtag?: string): CacheEntry {
  const body = serializeView(view);
  const entry: CacheEntry = { body, etag: computeEtag(body), storedAt };
  if (upstreamEtag !== undefined) entry.upstreamEtag = upstreamEtag;
  return entry;
}

/**
 * Optimistic concurrency (docs/contract.md §3): a write carrying `If-Match` proceeds only
 * if the resource's current representation still has that ETag. Call it with
 * the view built from the row locked by the write's transaction, so no other
 * write can slip in between the check and the write.
 */
export function assertIfMatch(ifMatch: string | undefined, currentView: unknown): void {
  if (ifMatch === undefined) return;
  if (!ifMatchMatches(ifMatch, computeEtag(serializeView(currentView)))) {
    throw new PreconditionFailedException('If-Match does not match the current representation; fetch it again');
  }
}
