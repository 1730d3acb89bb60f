import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { InjectOptions, LightMyRequestResponse as Response } from 'fastify';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Sends a request through Fastify's inject (no socket); a plain object body is sent as JSON. */
export async function call(
  app: NestFastifyApplication,
  method: HttpMethod,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const options: InjectOptions = { method, url, headers: { ...headers } };
  if (body !== undefined) {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      options.payload = body;
    } else {
      options.payload = JSON.stringify(body);
      options.headers = { 'content-type': 'application/json', ...options.headers };
    }
  }
  return app.inject(options);
}

/** Parses a JSON body, failing the test with the body's text when it is not JSON. */
export function json<T = any>(res: Response): T {
  try {
    return JSON.parse(res.body) as T;
  } catch {
    throw new Error(`expected JSON, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  }
}
