/**
 * The event envelope of docs/contract.md §6.2, as it travels in the `event` field of a
 * stream entry, and the one validation every consumer applies to it.
 */
export interface CdcEvent<Data extends Record<string, unknown> = Record<string, unknown>> {
  /** Unique; consumers may use it to drop duplicates. */
  id: string;
  /**
   * `<domain>.<aggregate>.<inserted|updated|deleted|truncated>`. `truncated`
   * (a TRUNCATE of the aggregate's table) means every aggregate of that type
   * is gone; its aggregate id is `*`.
   */
  type: string;
  messageVersion: number;
  schemaVersion: number;
  /** Who raised it: `postgres:<schema>.<table>` or a service name. */
  source: string;
  /** When the change was made (ISO 8601). */
  occurredAt: string;
  aggregate: { type: string; id: string };
  data: Data;
  /** Explicit cache keys to drop, for publishers that know them. */
  keys?: string[];
}

export const MESSAGE_VERSION = 1;
export const CONSUMER_GROUP = 'cache-sync';

/** An entry that can never be applied; it goes to the dead-letter stream at once. */
export class InvalidEnvelopeError extends Error {
  override readonly name = 'InvalidEnvelopeError';
}

const TYPE = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.(inserted|updated|deleted|truncated)$/;
/** The aggregate id of a `truncated` event: all of them. */
const ALL_AGGREGATES = '*';
/** The key shape of docs/contract.md §5.1: no wildcard, space or bracket can reach an invalidation. */
const KEY = /^[a-z][a-z0-9-]*(:[A-Za-z0-9_-]{1,128}){1,3}$/;

function fail(reason: string): never {
  throw new InvalidEnvelopeError(reason);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;

export function parseEnvelope(raw: string | null | undefined): CdcEvent {
  if (typeof raw !== 'string') fail('entry has no event field');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    fail('event is not JSON');
  }
  if (!isObject(value)) fail('event is not an object');
  const e = value;
  if (!nonEmpty(e.id)) fail('id must be a non-empty string');
  if (typeof e.type !== 'string' || !TYPE.test(e.type))
    fail('type must be <domain>.<aggregate>.<inserted|updated|deleted|truncated>');
  if (!Number.isInteger(e.messageVersion)) fail('messageVersion must be an integer');
  if (!Number.isInteger(e.schemaVersion)) fail('schemaVersion must be an integer');
  if (!nonEmpty(e.source)) fail('source must be a non-empty string');
  if (typeof e.occurredAt !== 'string' || Number.isNaN(Date.parse(e.occurredAt)))
    fail('occurredAt must be an ISO 8601 time');
  if (!isObject(e.aggregate) || !nonEmpty(e.aggregate.type) || !nonEmpty(e.aggregate.id)) {
    fail('aggregate must be {type, id}');
  }
  if (e.type.endsWith('.truncated') && e.aggregate.id !== ALL_AGGREGATES)
    fail('a truncated event names aggregate id *');
  if (!isObject(e.data)) fail('data must be an object');
  if (e.keys !== undefined && (!Array.isArray(e.keys) || !e.keys.every((k) => typeof k === 'string' && KEY.test(k)))) {
    fail('keys must be cache keys of the form domain:type:identifier');
  }
  return e as unknown as CdcEvent;
}

/** `cdc.<domain>.v<schemaVersion>`: the pattern handlers subscribe to (the Redis stream name adds CACHE_KEY_PREFIX). */
export function streamPattern(domain: string, schemaVersion: number): string {
  return `cdc.${domain}.v${schemaVersion}`;
}

/** The domain a stream pattern carries (`cdc.catalog.v1` → `catalog`), or undefined for another name. */
export function domainOfStream(pattern: string): string | undefined {
  return /^cdc\.([^.]+)\.v\d+$/.exec(pattern)?.[1];
}

/** `CDC_DUAL_PUBLISH=catalog:1,2;orders:1,2` → { catalog: [1, 2], orders: [1, 2] } */
export function parseDualPublish(value: string): Record<string, number[]> {
  const versions: Record<string, number[]> = {};
  for (const part of value.split(';').filter(Boolean)) {
    const [domain, list] = part.split(':');
    versions[domain] = [...new Set(list.split(',').map(Number))].sort((a, b) => a - b);
  }
  return versions;
}
