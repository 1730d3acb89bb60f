export { configureHttpApp, createFastifyAdapter, HttpAppOptions, BODY_LIMIT_BYTES } from './configure-http-app';
export { StructuredLogger, useStructuredLogger } from './structured-logger';
export { AllExceptionsFilter } from './all-exceptions.filter';
export { toHttpException, DATABASE_UNAVAILABLE, COMMIT_OUTCOME_UNKNOWN } from './error-mapping';
export { createValidationPipe } from './validation';
export { requestId } from './request-id';
export {
  IdParams,
  LowerCase,
  AccountParams,
  ACCOUNT_ID_PATTERN,
  CURRENCY_PATTERN,
  IsAccountId,
  IsInteger,
  IsUpperCaseCurrency,
} from './params.dto';
export { ApiCachedRead, ApiErrors, ApiError, ERROR_BODY_SCHEMA, IfMatch, completeDocument } from './openapi';
export { RouteMethods } from './method-not-allowed';
export { exitOnBootError, listenAndAnnounce } from './boot';
export { MetricsModule } from './metrics.module';
export { computeEtag, ifMatchMatches, ifNoneMatchMatches } from './etag';
