export { configureHttpApp, createFastifyAdapter, HttpAppOptions, BODY_LIMIT_BYTES } from './configure-http-app';
export { StructuredLogger, useStructuredLogger } from './structured-logger';
export { AllExceptionsFilter } from './all-exceptions.filter';
export { toHttpException } from './error-mapping';
export { createValidationPipe } from './validation';
export { requestId } from './request-id';
export { IdParams, LowerCase, AccountParams, ACCOUNT_ID_PATTERN, IsAccountId, IsUpperCaseCurrency } from './params.dto';
export { exitOnBootError } from './boot';
export { MetricsModule } from './metrics.module';
