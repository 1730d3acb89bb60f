import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';

/** Deeper input is refused before class-transformer, whose recursion would overflow the stack (a 500). */
export const MAX_INPUT_DEPTH = 32;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Finds what no DTO rule can express and what would otherwise fail later as a
 * 500: nesting deep enough to overflow a recursive transform, and NUL
 * characters, which Postgres text and jsonb cannot store. Iterative on purpose.
 * Answers a message naming the offending field, or undefined.
 */
export function findUnacceptableInput(value: unknown, root: string): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    const name = path || root;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${name} must not contain NUL characters`;
      continue;
    }
    const entries = Array.isArray(v)
      ? v.map((e, i) => [String(i), e] as const)
      : isPlainObject(v)
        ? Object.entries(v)
        : undefined;
    if (!entries) continue;
    // The top-level field is named: the full path of a deep value would be as long as the nesting.
    if (depth >= MAX_INPUT_DEPTH)
      return `${path.split('.')[0] || root} is nested more than ${MAX_INPUT_DEPTH} levels deep`;
    for (const [key, child] of entries) {
      const childPath = path ? `${path}.${key}` : key;
      if (key.includes('\u0000')) return `${path || root} must not contain NUL characters in field names`;
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return undefined;
}

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Nest turns a missing or null body into {}, which a DTO of optional fields (PATCH) would accept as "no change".
    if (metadata.type === 'body' && metadata.data === undefined && (value === undefined || value === null)) {
      throw new BadRequestException(['body must be a JSON object']);
    }
    if (metadata.type !== 'custom') {
      const problem = findUnacceptableInput(value, metadata.type);
      if (problem) throw new BadRequestException([problem]);
    }
    return super.transform(value, metadata);
  }
}

/**
 * Bodies, params and queries are validated against their DTOs: unknown fields
 * are rejected (not silently dropped), and values are never coerced, so
 * `"priceCents": "12"` is a 400 rather than a guess. Messages name the field.
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
  });
}
