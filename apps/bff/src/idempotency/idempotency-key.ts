import { BadRequestException } from '@nestjs/common';
import { createHash } from 'node:crypto';

/**
 * The pure decisions of idempotent creation (docs/contract.md §3 "Idempotent creation"):
 * which keys are valid, when two requests are "the same", and what a stored
 * key means for a new request. Kept free of Nest's DI and of Postgres so they
 * are unit tested.
 */

/** Request header (Fastify lower-cases names). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Response header of a replayed answer. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** 1..255 visible ASCII characters (0x21..0x7E): no spaces, no control or non-ASCII characters. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** What a request with a valid key carries through the handler to IdempotencyService. */
export interface IdempotencyContext {
  key: string;
  /** Method and route template, e.g. `POST /orders/:id/items`: a key belongs to one route. */
  route: string;
  /** requestHash() of this request. */
  requestHash: string;
  /** The route's success status, stored with the answer. */
  statusCode: number;
  /** Set by IdempotencyService when the stored answer was returned instead of running the write. */
  replayed: boolean;
}

/** The header's value → the key; undefined when the header is absent; 400 when it is not a valid key. */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && KEY_PATTERN.test(value)) return value;
  throw new BadRequestException('Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces), sent once');
}

/** JSON with every object's keys sorted, so key order and whitespace do not make two requests differ. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * SHA-256 (hex) of the method, the path (ids included, without the query string,
 * lower-cased like the ids it holds) and the canonical JSON body.
 */
export function requestHash(method: string, url: string, body: unknown): string {
  const path = url.split('?')[0].toLowerCase();
  return createHash('sha256')
    .update(`${method.toUpperCase()} ${path}\n${canonicalJson(body)}`)
    .digest('hex');
}

/** A stored key as the claim reads it; `expired` is decided by Postgres's clock (`expires_at <= now()`). */
export interface StoredKey {
  requestHash: string;
  expired: boolean;
}

/**
 * What a stored key means for a request that now holds the key's lock:
 * - `new`: no stored answer; run the write and store its answer;
 * - `expired`: the stored answer is past IDEMPOTENCY_TTL; delete it, then as `new`;
 * - `replay`: the same request; answer the stored response, write nothing;
 * - `mismatch`: another request under the same key → 422.
 */
export type KeyDecision = 'new' | 'expired' | 'replay' | 'mismatch';

export function decide(stored: StoredKey | undefined, hash: string): KeyDecision {
  if (!stored) return 'new';
  if (stored.expired) return 'expired';
  return stored.requestHash === hash ? 'replay' : 'mismatch';
}

/** How often expired rows are swept: every minute, or twice per TTL when that is shorter. */
export function sweepEveryMs(ttlMs: number): number {
  return Math.max(1, Math.min(60_000, Math.floor(ttlMs / 2)));
}
