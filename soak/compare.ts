import { isDeepStrictEqual } from 'node:util';

/** One GET as an instance answered it: status, parsed JSON body, X-Cache. */
export interface ViewResponse {
  status: number;
  body: unknown;
  xCache?: string | null;
}

/** A cached instance's answer that differs from the cache-less instance's. */
export interface StaleEntry {
  instance: string;
  path: string;
  cached: ViewResponse;
  truth: ViewResponse;
}

/**
 * Compares one view: equal when the status and the parsed body are deep-equal
 * (key order is irrelevant, array order is not). Returns the difference or null.
 */
export function compareView(
  instance: string,
  path: string,
  cached: ViewResponse,
  truth: ViewResponse,
): StaleEntry | null {
  if (cached.status === truth.status && isDeepStrictEqual(cached.body, truth.body)) return null;
  return { instance, path, cached, truth };
}

/** A difference in full, for the report. */
export function describeStale(entry: StaleEntry): string {
  return [
    `${entry.instance} GET ${entry.path}`,
    `  cached (${entry.cached.status}, X-Cache ${entry.cached.xCache ?? '-'}): ${JSON.stringify(entry.cached.body)}`,
    `  source (${entry.truth.status}): ${JSON.stringify(entry.truth.body)}`,
  ].join('\n');
}
