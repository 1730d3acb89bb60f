import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { CdcHealthService } from '@app/cdc';
import { eventually } from '../../tools/eventually';

/** Environment that turns the CDC pipeline on for a test BFF (the harness default too, since CDC is the only invalidation path). */
export const CDC_ON = { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '1000' } as const;

/** A BFF without relay and subscriber (the harness default is the whole pipeline on): these tests say what runs where. */
export const CDC_OFF = { CDC_RELAY: 'false', CDC_SUBSCRIBER: 'false' } as const;

/** A BFF that reads everything from Postgres: the source of truth to compare cached views with. No CDC of its own. */
export const TRUTH_ENV = { CACHE_ENABLED: 'false', ...CDC_OFF } as const;

/**
 * Waits until every committed change has been published and applied: no
 * unpublished outbox rows, and every stream's group has no lag and nothing
 * pending. The guarantees of docs/contract.md §9 are stated "once the lag is 0".
 */
export async function waitForCdc(
  app: NestFastifyApplication,
  timeoutMs = 10_000,
  /** Streams nobody consumes in this test (e.g. a dual-published v2): they cannot settle. */
  unconsumed: string[] = [],
): Promise<void> {
  const health = app.get(CdcHealthService);
  await eventually(
    async () => {
      // The outbox first, then the streams, never both at once: a row the relay publishes between the two
      // reads is then already in the stream when it is looked at. (In parallel, a stream read just before
      // the XADD and an outbox read just after the row was marked published looked settled.)
      const relay = await health.relay();
      const streams = await health.streams();
      const settled =
        relay.backlog === 0 &&
        Object.entries(streams).every(([name, s]) => unconsumed.includes(name) || (s.lag === 0 && s.pending === 0));
      if (!settled) throw new Error(JSON.stringify({ relay, streams }));
    },
    { timeoutMs, intervalMs: 10, message: 'CDC to settle (no outbox backlog; no lag, nothing pending)' },
  );
}
