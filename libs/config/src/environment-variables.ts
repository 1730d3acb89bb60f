import { Expose, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { hostname } from 'node:os';

/** Builds a message that names the variable and the form it must take. */
function form(expected: string): ValidationOptions {
  return {
    message: ({ property, value }) => `${property} must be ${expected} (got ${JSON.stringify(value)})`,
  };
}

/** Env values are strings: accept true/false/1/0 and leave anything else for @IsBoolean to reject. */
const toBoolean = Transform(({ value }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return value;
});

/** Env values are strings: parse integers strictly so "12abc" or "1.5" are rejected, not truncated. */
const toInteger = Transform(({ value }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value,
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

/** Used in development and tests when CACHE_ENCRYPTION_KEY is unset; the same value is in .env.example. */
export const DEVELOPMENT_ENCRYPTION_KEY = 'ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMtISE=';

/**
 * Every environment variable cachegate reads (docs/contract.md §7), with its default.
 * `.env.example` lists the same names and defaults; keep both in step.
 */
export class EnvironmentVariables {
  @Expose()
  @IsIn(NODE_ENVS, form(NODE_ENVS.join(' | ')))
  NODE_ENV: NodeEnv = 'development';

  @Expose()
  @toInteger
  @IsInt(form('an integer port 1..65535'))
  @Min(1, form('an integer port 1..65535'))
  @Max(65535, form('an integer port 1..65535'))
  PORT = 3000;

  @Expose()
  @Matches(/^postgres(ql)?:\/\/\S+$/, form('a postgres:// URL'))
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cachegate';

  /**
   * The longest any request waits for Postgres: a pool connection, a connect, or one query (docs/contract.md §3 errors).
   * Past it the answer is 503 `database unavailable`. Postgres's own statement_timeout is set a little below it
   * (libs/database/src/data-source-options.ts), so a live but slow server cancels the statement itself.
   */
  @Expose()
  @toInteger
  @IsInt(form('milliseconds 100..600000'))
  @Min(100, form('milliseconds 100..600000'))
  @Max(600_000, form('milliseconds 100..600000'))
  DATABASE_TIMEOUT_MS = 5000;

  /** How long a stored Idempotency-Key answer is replayed (docs/contract.md §3 "Idempotent creation"), e.g. 30m, 24h, 7d. */
  @Expose()
  @Matches(/^[1-9]\d*(s|m|h|d)$/, form('a duration such as 90s, 30m, 24h or 7d'))
  IDEMPOTENCY_TTL = '24h';

  @Expose()
  @Matches(/^rediss?:\/\/\S+$/, form('a redis:// URL'))
  REDIS_URL = 'redis://127.0.0.1:6379';

  /** A Redis Cluster's nodes, `host:port,…` (some of them are enough): used instead of REDIS_URL (docs/contract.md §5.10). */
  @Expose()
  @IsOptional()
  @Matches(/^\s*[A-Za-z0-9.[\]:-]+:\d{1,5}\s*(,\s*[A-Za-z0-9.[\]:-]+:\d{1,5}\s*)*$/, form('host:port,host:port,…'))
  REDIS_CLUSTER_NODES?: string;

  /** On a cluster: replicas that must acknowledge each write exactness rests on before it counts (WAIT); 0 = none. */
  @Expose()
  @toInteger
  @IsInt()
  @Min(0)
  @Max(5)
  REDIS_CLUSTER_WAIT_REPLICAS = 1;

  /** Prefixes every Redis name (entries, leases, channels, streams) so deployments can share one Redis. */
  @Expose()
  @Matches(/^[A-Za-z0-9._:-]{0,64}$/, form('up to 64 characters of A-Z a-z 0-9 . _ : -'))
  CACHE_KEY_PREFIX = '';

  @Expose()
  @toBoolean
  @IsBoolean(form('true or false'))
  CACHE_ENABLED = true;

  @Expose()
  @toBoolean
  @IsBoolean(form('true or false'))
  L1_ENABLED = true;

  @Expose()
  @toInteger
  @IsInt(form('a byte count >= 1048576'))
  @Min(1_048_576, form('a byte count >= 1048576'))
  L1_MAX_BYTES = 64 * 1024 * 1024;

  /**
   * L1 answers only while the invalidation channel was confirmed alive (a PING
   * answered in order behind every message) within this many ms, so an instance
   * cut off from Redis stops serving L1 within it, even when the connection hangs.
   */
  @Expose()
  @toInteger
  @IsInt(form('milliseconds between 100 and 60000'))
  @Min(100, form('milliseconds between 100 and 60000'))
  @Max(60_000, form('milliseconds between 100 and 60000'))
  L1_MAX_STALENESS_MS = 500;

  /** AES-256-GCM key for buckets holding personal data; required in production. */
  @Expose()
  @ValidateIf((env: EnvironmentVariables) => env.NODE_ENV === 'production' || env.CACHE_ENCRYPTION_KEY !== undefined)
  @Matches(/^[A-Za-z0-9+/]{43}=$/, form('32 bytes encoded as base64 (44 characters), required in production'))
  CACHE_ENCRYPTION_KEY?: string;

  /** Bearer token for /admin routes; unset means the admin routes answer 404. */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(16, form('at least 16 characters'))
  ADMIN_TOKEN?: string;

  @Expose()
  @toBoolean
  @IsBoolean(form('true or false'))
  CDC_RELAY = true;

  @Expose()
  @toBoolean
  @IsBoolean(form('true or false'))
  CDC_SUBSCRIBER = true;

  @Expose()
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, form('1..128 characters of A-Z a-z 0-9 . _ : -'))
  CDC_CONSUMER_NAME = `${hostname()}-${process.pid}`;

  /** /health reports cdc down when a consumer group lags more entries than this. */
  @Expose()
  @toInteger
  @IsInt(form('an integer >= 1'))
  @Min(1, form('an integer >= 1'))
  CDC_LAG_ALERT = 1000;

  /** The active relay releases its lock after this long with rows waiting and no publish succeeding (Postgres up). */
  @Expose()
  @toInteger
  @IsInt(form('milliseconds >= 500'))
  @Min(500, form('milliseconds >= 500'))
  CDC_RELAY_STALL_MS = 3000;

  /**
   * /health reports cdc down when the oldest unpublished outbox row is older than this. Above CDC_RELAY_STALL_MS:
   * a stalled leader's rows are that old before it steps down, and a takeover needs a lock retry (1 s) more.
   */
  @Expose()
  @toInteger
  @IsInt(form('milliseconds greater than CDC_RELAY_STALL_MS'))
  @ValidateBy(
    {
      name: 'exceedsRelayStall',
      validator: {
        validate: (value, args) => {
          const stall = (args?.object as EnvironmentVariables).CDC_RELAY_STALL_MS;
          return typeof stall !== 'number' || (typeof value === 'number' && value > stall);
        },
      },
    },
    {
      message: ({ value, object }) =>
        `CDC_LAG_ALERT_MS must be milliseconds greater than CDC_RELAY_STALL_MS=${(object as EnvironmentVariables).CDC_RELAY_STALL_MS} (got ${JSON.stringify(value)})`,
    },
  )
  CDC_LAG_ALERT_MS = 10_000;

  @Expose()
  @toInteger
  @IsInt(form('an integer >= 1000'))
  @Min(1000, form('an integer >= 1000'))
  CDC_STREAM_MAXLEN = 100_000;

  @Expose()
  @toInteger
  @IsInt(form('milliseconds >= 100'))
  @Min(100, form('milliseconds >= 100'))
  CDC_CLAIM_IDLE_MS = 10_000;

  @Expose()
  @toInteger
  @IsInt(form('an integer 1..100'))
  @Min(1, form('an integer 1..100'))
  @Max(100, form('an integer 1..100'))
  CDC_MAX_DELIVERIES = 5;

  /** How long published outbox rows are kept, e.g. 30m, 24h, 7d. */
  @Expose()
  @Matches(/^\d+(s|m|h|d)$/, form('a duration such as 30m, 24h or 7d'))
  CDC_OUTBOX_RETENTION = '24h';

  /** During a schema migration: publish a domain's events to several versions, e.g. catalog:1,2;orders:1,2 */
  @Expose()
  @Matches(
    /^$|^[a-z][a-z0-9-]*:\d+(,\d+)+(;[a-z][a-z0-9-]*:\d+(,\d+)+)*$/,
    form('empty or domain:v,v[;domain:v,v] such as catalog:1,2'),
  )
  CDC_DUAL_PUBLISH = '';

  @Expose()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true }, form('an http(s) URL'))
  BILLING_URL = 'http://127.0.0.1:3001';

  /** apps/billing: the port it listens on (the BFF reaches it through BILLING_URL). */
  @Expose()
  @toInteger
  @IsInt(form('an integer port 1..65535'))
  @Min(1, form('an integer port 1..65535'))
  @Max(65535, form('an integer port 1..65535'))
  BILLING_PORT = 3001;

  /** apps/billing: the database holding its own schema `billing` (the same server and database as the BFF by default). */
  @Expose()
  @Matches(/^postgres(ql)?:\/\/\S+$/, form('a postgres:// URL'))
  BILLING_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/cachegate';

  /** The BFF gives up on a billing call after this long (then serves a stale entry within grace, or 503). */
  @Expose()
  @toInteger
  @IsInt(form('milliseconds 100..60000'))
  @Min(100, form('milliseconds 100..60000'))
  @Max(60000, form('milliseconds 100..60000'))
  BILLING_TIMEOUT_MS = 2000;

  @Expose()
  @toInteger
  @IsInt(form('seconds >= 1'))
  @Min(1, form('seconds >= 1'))
  INVOICES_TTL_SECONDS = 90;

  @Expose()
  @toInteger
  @IsInt(form('seconds >= 0'))
  @Min(0, form('seconds >= 0'))
  INVOICES_GRACE_SECONDS = 600;

  @Expose()
  @IsIn(LOG_LEVELS, form(LOG_LEVELS.join(' | ')))
  LOG_LEVEL: LogLevel = 'info';
}
