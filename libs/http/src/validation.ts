import { ValidationPipe } from '@nestjs/common';

/**
 * Bodies, params and queries are validated against their DTOs: unknown fields
 * are rejected (not silently dropped), and values are never coerced, so
 * `"priceCents": "12"` is a 400 rather than a guess. Messages name the field.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
  });
}
