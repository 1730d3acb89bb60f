import { Injectable } from '@nestjs/common';

/** The statuses a list response can have when it is sent: a body, or a revalidation without one. */
export type ListResponseStatus = 200 | 304;

export interface StatsView {
  /** Invoice list responses sent by this process since it started: 200 carried a body, 304 did not. */
  listResponses: Record<ListResponseStatus, number>;
}

/**
 * Counts what `GET /accounts/:accountId/invoices` sent, per process. A test and
 * ops aid: it shows whether a client (the BFF) revalidates with If-None-Match
 * (304s) or transfers bodies again (200s).
 */
@Injectable()
export class ResponseStats {
  private readonly listResponses: Record<ListResponseStatus, number> = { 200: 0, 304: 0 };

  recordList(status: ListResponseStatus): void {
    this.listResponses[status]++;
  }

  snapshot(): StatsView {
    return { listResponses: { ...this.listResponses } };
  }
}
