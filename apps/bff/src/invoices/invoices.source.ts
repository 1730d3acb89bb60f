import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { UpstreamResult } from '@app/cache';
import type { EnvironmentVariables } from '@app/config';

/** One invoice of GET /accounts/:accountId/invoices (docs/contract.md §3), as apps/billing serves it. */
export interface InvoiceView {
  id: string;
  number: string;
  status: string;
  totalCents: number;
  currency: string;
  dueDate: string;
}

/** The billing service failed or did not answer in time; a stale entry may still be served. */
export class BillingUnavailableException extends ServiceUnavailableException {
  constructor(reason: string) {
    super(`billing service unavailable: ${reason}`);
  }
}

function toInvoiceView(raw: Record<string, unknown>): InvoiceView {
  const { id, number, status, totalCents, currency, dueDate } = raw;
  if (
    typeof id !== 'string' ||
    typeof number !== 'string' ||
    typeof status !== 'string' ||
    typeof totalCents !== 'number' ||
    typeof currency !== 'string' ||
    typeof dueDate !== 'string'
  ) {
    throw new BillingUnavailableException('unexpected invoice shape');
  }
  return { id, number, status, totalCents, currency, dueDate };
}

/**
 * The invoices' source: apps/billing over HTTP. Conditional requests carry
 * the stored upstream ETag, so an unchanged list costs a 304 and no body.
 * Calls give up after BILLING_TIMEOUT_MS.
 */
@Injectable()
export class InvoicesSource {
  private readonly logger = new Logger(InvoicesSource.name);
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(config: ConfigService<EnvironmentVariables, true>) {
    this.baseUrl = config.get('BILLING_URL').replace(/\/+$/, '');
    this.timeoutMs = config.get('BILLING_TIMEOUT_MS');
  }

  async accountInvoices(accountId: string, upstreamEtag?: string): Promise<UpstreamResult<InvoiceView[]>> {
    const url = `${this.baseUrl}/accounts/${encodeURIComponent(accountId)}/invoices`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', ...(upstreamEtag ? { 'if-none-match': upstreamEtag } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason =
        (err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (err as Error).message;
      this.logger.warn(`GET ${url} failed: ${reason}`);
      throw new BillingUnavailableException(reason);
    }
    if (response.status === 304) return { status: 'not-modified' };
    if (!response.ok) {
      await response.body?.cancel();
      throw new BillingUnavailableException(`answered ${response.status}`);
    }
    const body = (await response.json()) as unknown;
    if (!Array.isArray(body)) throw new BillingUnavailableException('unexpected response shape');
    return {
      status: 'ok',
      view: body.map((raw) => toInvoiceView(raw as Record<string, unknown>)),
      upstreamEtag: response.headers.get('etag') ?? undefined,
    };
  }
}
