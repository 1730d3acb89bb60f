import { computeEtag } from '@app/http';

/** A response body serialised once, and the strong ETag of exactly those bytes. */
export interface JsonRepresentation {
  body: Buffer;
  etag: string;
}

/**
 * Serialises a view once per request; the ETag is computed from the bytes that
 * are sent, so it validates exactly what the client holds. The validator is the
 * BFF cache's own (libs/cache etag.ts), so both ends agree on its form.
 */
export function jsonRepresentation(view: unknown): JsonRepresentation {
  const body = Buffer.from(JSON.stringify(view));
  return { body, etag: computeEtag(body) };
}
