import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdcHealthService } from '@app/cdc';

/** Environment that turns the CDC pipeline on for a test BFF (the harness default too, since CDC is the only invalidation path). */
export const CDC_ON = { CDC_RELAY: 'true', CDC_SUBSCRIBER: 'true', CDC_CLAIM_IDLE_MS: '1000' } as const;

/**
 * Waits until every committed change has been published and applied: no
 * unpublished outbox rows, and every stream's group has no lag and nothing
 * pending. The guarantees of SPEC §9 are stated "once the lag is 0".
 */
export async function waitForCdc(
  app: NestFastifyApplication,
  timeoutMs = 10_000,
  /** Streams nobody consumes in this test (e.g. a dual-published v2): they cannot settle. */
  unconsumed: string[] = [],
): Promise<void> {
  const health = app.get(CdcHealthService);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    // The outbox first, then the streams, never both at once: a row the relay publishes between the two
    // reads is then already in the stream when it is looked at. (In parallel, a stream read just before
    // the XADD and an outbox read just after the row was marked published looked settled.)
    const report = await health
      .relay()
      .then(async (relay) => ({ relay, streams: await health.streams() }))
      .catch((err: Error) => ({ error: err.message }) as const);
    if (!('error' in report)) {
      const settled =
        report.relay.backlog === 0 &&
        Object.entries(report.streams).every(
          ([name, s]) => unconsumed.includes(name) || (s.lag === 0 && s.pending === 0),
        );
      if (settled) return;
      last = JSON.stringify({ relay: report.relay, streams: report.streams });
    } else {
      last = report.error;
    }
    await sleep(10);
  }
  throw new Error(`CDC did not settle within ${timeoutMs} ms: ${last}`);
}
