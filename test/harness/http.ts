import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { checkConformance } from './openapi-conformance';

// Types taken from the app's own inject (Nest's Fastify adapter may carry its own light-my-request).
type InjectOptions = Exclude<Parameters<NestFastifyApplication['inject']>[0], string | undefined>;
export type Response = Awaited<ReturnType<NestFastifyApplication['inject']>>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface CallOptions {
  /**
   * Check the answer against the app's own OpenAPI document (default true;
   * openapi-conformance.ts). Turn it off only for a request that is outside the
   * document on purpose: an unknown path, or the 405 of an undocumented method.
   */
  conformance?: boolean;
}

/**
 * Sends a request through Fastify's inject (no socket); a plain object body is
 * sent as JSON. The answer must conform to the app's /docs-json (status, body
 * schema, required headers), or the call throws.
 */
export async function call(
  app: NestFastifyApplication,
  method: HttpMethod,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  { conformance = true }: CallOptions = {},
): Promise<Response> {
  const allHeaders: Record<string, string> = { ...headers };
  let payload: string | Buffer | undefined;
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      payload = body;
    } else {
      payload = JSON.stringify(body);
      allHeaders['content-type'] ??= 'application/json';
    }
  }
  const options: InjectOptions = { method, url, headers: allHeaders, payload };
  const res = await app.inject(options);
  if (conformance) await checkConformance(app, method, url, res);
  return res;
}

/** Parses a JSON body, failing the test with the body's text when it is not JSON. */
export function json<T = any>(res: Response): T {
  try {
    return JSON.parse(res.body) as T;
  } catch {
    throw new Error(`expected JSON, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  }
}
