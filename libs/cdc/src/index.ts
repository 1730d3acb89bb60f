export { CdcModule, CdcModuleConfig, connectCdcSubscriber, createCdcServer } from './cdc.module';
export {
  CdcEvent,
  parseEnvelope,
  streamPattern,
  parseDualPublish,
  InvalidEnvelopeError,
  CONSUMER_GROUP,
  MESSAGE_VERSION,
} from './cdc-event';
export { CdcStats, LatencyWindow } from './cdc-stats';
export { CDC_REPLICA_WAIT_MS, cdcRedis, CdcRedis } from './cdc-redis';
export { CdcHealthIndicator } from './cdc.health';
export { CdcHealthService, CdcReport } from './cdc-health.service';
export { CAPTURE_RESUMED_TRIGGER } from './capture-triggers';
export { RedisStreamsServer, RedisStreamsServerOptions } from './redis-streams.server';
export { RedisStreamsClient, OutgoingEvent } from './redis-streams.client';
export { RedisStreamsContext } from './redis-streams.context';
export { OutboxRelay, OutboxRow, durationMs } from './outbox-relay';
export { ownChanges, TransactionQuery } from './own-changes';
export { CDC_BATCH_HANDLER, CdcEventPattern } from './cdc-event-pattern.decorator';
export {
  DeadLetters,
  DeadLetter,
  DeadLetterPage,
  DeadLettersOptions,
  RedriveReport,
  UnknownStreamError,
} from './dead-letters';
