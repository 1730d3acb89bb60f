import { createHash } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createBillingApp } from '../../apps/billing/src/billing-app';
import { DatabaseUnreachableError } from '@app/database';
import { errorOf, expectStatus, tag, UNKNOWN_ID, UUID_PATTERN, ISO_TIMESTAMP_PATTERN } from '../harness/fixtures';
import { call, json, Response } from '../harness/http';
import { useTestContext } from '../harness/test-context';

/** The fields of a list element, in the order the bytes (and so the ETag) carry them. */
const SUMMARY_FIELDS = ['id', 'number', 'status', 'totalCents', 'currency', 'dueDate'];
const INVOICE_FIELDS = ['id', 'accountId', 'number', 'status', 'totalCents', 'currency', 'dueDate', 'updatedAt'];

interface InvoiceBody {
  id: string;
  accountId: string;
  number: string;
  status: string;
  totalCents: number;
  currency: string;
  dueDate: string;
  updatedAt: string;
}

const account = () => `acct-${tag()}`;
const invoiceNumber = () => `INV-${tag().toUpperCase()}`;

async function createInvoice(
  app: NestFastifyApplication,
  accountId: string,
  fields: Record<string, unknown> = {},
): Promise<InvoiceBody> {
  const res = await call(app, 'POST', `/accounts/${accountId}/invoices`, {
    number: invoiceNumber(),
    totalCents: 1250,
    currency: 'EUR',
    dueDate: '2026-03-31',
    ...fields,
  });
  expectStatus(res, 201);
  return json(res);
}

const list = (app: NestFastifyApplication, accountId: string, headers: Record<string, string> = {}) =>
  call(app, 'GET', `/accounts/${accountId}/invoices`, undefined, headers);

async function stats(app: NestFastifyApplication): Promise<{ 200: number; 304: number }> {
  const res = await call(app, 'GET', '/stats');
  expectStatus(res, 200);
  return json(res).listResponses;
}

const sha1Etag = (res: Response) => `"${createHash('sha1').update(res.rawPayload).digest('base64url')}"`;

describe('billing service', () => {
  const ctx = useTestContext();
  let app: NestFastifyApplication;

  /**
   * The row's `updated_at` in microseconds, as Postgres keeps it. The API's
   * ISO strings carry milliseconds, and a create and an update can land in the
   * same millisecond on a fast machine, so "bumped" is judged here.
   */
  async function updatedAtMicros(id: string): Promise<bigint> {
    const { rows } = await ctx().sql.query(
      `SELECT (extract(epoch FROM updated_at) * 1000000)::bigint::text AS us FROM billing.invoices WHERE id = $1`,
      [id],
    );
    return BigInt(rows[0].us as string);
  }

  beforeAll(async () => {
    app = await ctx().startBilling();
  });

  describe('GET /accounts/:accountId/invoices', () => {
    it('lists an account’s invoices in exactly the list shape, by due date then number in byte order', async () => {
      const acct = account();
      const other = await createInvoice(app, account(), { dueDate: '2026-01-01' });
      const late = await createInvoice(app, acct, {
        number: `Z-${tag()}`,
        dueDate: '2026-12-31',
        status: 'open',
        totalCents: 0,
      });
      // Same due date: "X-B" sorts before "X-a" in byte order (a locale collation would say otherwise).
      const t = tag();
      const lower = await createInvoice(app, acct, { number: `X-${t}-a`, dueDate: '2026-02-28' });
      const upper = await createInvoice(app, acct, { number: `X-${t}-B`, dueDate: '2026-02-28', currency: 'USD' });
      const early = await createInvoice(app, acct, { number: `Z-${tag()}`, dueDate: '2025-11-30', status: 'paid' });

      const res = await list(app, acct);
      expectStatus(res, 200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = json<Record<string, unknown>[]>(res);
      expect(body.map((i) => i.id)).toEqual([early.id, upper.id, lower.id, late.id]);
      expect(body.map((i) => i.id)).not.toContain(other.id);
      for (const item of body) expect(Object.keys(item)).toEqual(SUMMARY_FIELDS);
      expect(body[0]).toEqual({
        id: early.id,
        number: early.number,
        status: 'paid',
        totalCents: 1250,
        currency: 'EUR',
        dueDate: '2025-11-30',
      });
      expect(body[1]).toMatchObject({ currency: 'USD', status: 'draft' });
      expect(body[3]).toMatchObject({ status: 'open', totalCents: 0, dueDate: '2026-12-31' });
    });

    it('answers [] for an account without invoices, with an ETag', async () => {
      const res = await list(app, account());
      expectStatus(res, 200);
      expect(res.body).toBe('[]');
      expect(res.headers.etag).toBe(sha1Etag(res));
    });

    it.each(['bad%20id', 'a.b', 'x'.repeat(65), '%2A'])('refuses the account id %s with 400 naming it', async (bad) => {
      const res = await list(app, bad);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(/accountId must match/);
    });
  });

  describe('ETag and If-None-Match', () => {
    it('sends a strong ETag over the exact body bytes, stable across requests', async () => {
      const acct = account();
      await createInvoice(app, acct);
      await createInvoice(app, acct, { dueDate: '2026-04-30' });
      const first = await list(app, acct);
      const second = await list(app, acct);
      expectStatus(first, 200);
      expect(first.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(first.headers.etag).toBe(sha1Etag(first));
      expect(Number(first.headers['content-length'])).toBe(first.rawPayload.length);
      expect(second.headers.etag).toBe(first.headers.etag);
      expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
    });

    it('changes the ETag after every kind of write to the account, and only then', async () => {
      const acct = account();
      const invoice = await createInvoice(app, acct);
      const seen = [(await list(app, acct)).headers.etag];

      // A write to another account leaves this representation alone.
      await createInvoice(app, account());
      expect((await list(app, acct)).headers.etag).toBe(seen[0]);

      await createInvoice(app, acct, { dueDate: '2027-01-01' });
      seen.push((await list(app, acct)).headers.etag);
      expectStatus(await call(app, 'PATCH', `/invoices/${invoice.id}`, { totalCents: 999 }), 200);
      seen.push((await list(app, acct)).headers.etag);
      expectStatus(await call(app, 'PATCH', `/invoices/${invoice.id}`, { status: 'open' }), 200);
      seen.push((await list(app, acct)).headers.etag);
      // A write by anything else (plain SQL) shows at once: billing does not cache.
      await ctx().sql.query(`UPDATE billing.invoices SET due_date = '2026-05-05' WHERE id = $1`, [invoice.id]);
      seen.push((await list(app, acct)).headers.etag);
      expectStatus(await call(app, 'DELETE', `/invoices/${invoice.id}`), 204);
      seen.push((await list(app, acct)).headers.etag);

      expect(new Set(seen).size).toBe(seen.length);
    });

    it('answers 304 without a body when If-None-Match holds the current ETag, and counts what it sent', async () => {
      const acct = account();
      await createInvoice(app, acct);
      const before = await stats(app);

      const full = await list(app, acct);
      expectStatus(full, 200);
      const etag = full.headers.etag as string;

      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await list(app, acct, { 'if-none-match': ifNoneMatch });
        expectStatus(res, 304);
        expect(res.rawPayload.length).toBe(0);
        expect(res.headers.etag).toBe(etag);
      }
      expect(await stats(app)).toEqual({ 200: before[200] + 1, 304: before[304] + 4 });

      // A stale validator gets the new body.
      await createInvoice(app, acct, { dueDate: '2026-06-30' });
      const changed = await list(app, acct, { 'if-none-match': etag });
      expectStatus(changed, 200);
      expect(json(changed)).toHaveLength(2);
      expect(changed.headers.etag).not.toBe(etag);
      expect(await stats(app)).toEqual({ 200: before[200] + 2, 304: before[304] + 4 });

      // Refused requests and other routes are not list responses.
      await list(app, 'bad%20id');
      await call(app, 'GET', '/health');
      expect(await stats(app)).toEqual({ 200: before[200] + 2, 304: before[304] + 4 });
    });

    it('serves the same over a real socket (how the BFF calls it)', async () => {
      const acct = account();
      await createInvoice(app, acct);
      const url = `${await app.getUrl()}/accounts/${acct}/invoices`;
      const full = await fetch(url);
      expect(full.status).toBe(200);
      const bytes = Buffer.from(await full.arrayBuffer());
      const etag = full.headers.get('etag')!;
      expect(etag).toBe(`"${createHash('sha1').update(bytes).digest('base64url')}"`);
      expect(Number(full.headers.get('content-length'))).toBe(bytes.length);
      const revalidated = await fetch(url, { headers: { 'if-none-match': etag } });
      expect(revalidated.status).toBe(304);
      expect((await revalidated.arrayBuffer()).byteLength).toBe(0);
    });
  });

  describe('GET /stats', () => {
    it('reports the list responses as {listResponses: {200, 304}}', async () => {
      const res = await call(app, 'GET', '/stats');
      expectStatus(res, 200);
      const body = json(res);
      expect(Object.keys(body)).toEqual(['listResponses']);
      expect(Object.keys(body.listResponses).sort()).toEqual(['200', '304']);
      expect(Number.isInteger(body.listResponses['200'])).toBe(true);
    });

    it('counts per process', async () => {
      const fresh = await ctx().startBilling();
      expect(await stats(fresh)).toEqual({ 200: 0, 304: 0 });
      await list(fresh, account());
      expect(await stats(fresh)).toEqual({ 200: 1, 304: 0 });
    });
  });

  describe('POST /accounts/:accountId/invoices', () => {
    it('creates a draft invoice and answers 201 with it', async () => {
      const acct = account();
      const number = invoiceNumber();
      const res = await call(app, 'POST', `/accounts/${acct}/invoices`, {
        number,
        totalCents: 4200,
        currency: 'GBP',
        dueDate: '2028-02-29',
      });
      expectStatus(res, 201);
      const body = json<InvoiceBody>(res);
      expect(Object.keys(body)).toEqual(INVOICE_FIELDS);
      expect(body).toMatchObject({
        accountId: acct,
        number,
        status: 'draft',
        totalCents: 4200,
        currency: 'GBP',
        dueDate: '2028-02-29',
      });
      expect(body.id).toMatch(UUID_PATTERN);
      expect(body.updatedAt).toMatch(ISO_TIMESTAMP_PATTERN);
      const { rows } = await ctx().sql.query(
        `SELECT account_id, due_date::text AS due FROM billing.invoices WHERE id = $1`,
        [body.id],
      );
      expect(rows).toEqual([{ account_id: acct, due: '2028-02-29' }]);
    });

    it.each(['draft', 'open', 'paid', 'void'])('accepts the initial status %s', async (status) => {
      expect((await createInvoice(app, account(), { status })).status).toBe(status);
    });

    it('answers 409 for a number that exists, in any account', async () => {
      const first = await createInvoice(app, account());
      const res = await call(app, 'POST', `/accounts/${account()}/invoices`, {
        number: first.number,
        totalCents: 1,
        currency: 'EUR',
        dueDate: '2026-01-01',
      });
      expectStatus(res, 409);
      expect(errorOf(res).message).toMatch(/number already exists/);
    });

    const valid = { number: 'INV-VALID-1', totalCents: 100, currency: 'EUR', dueDate: '2026-01-31' };
    it.each([
      ['number', { number: 'has space' }, /number must match/],
      ['number', { number: '' }, /number must match/],
      ['number', { number: 'N'.repeat(65) }, /number must match/],
      ['number', { number: 42 }, /number must be a string/],
      ['status', { status: 'sent' }, /status must be one of/],
      ['status', { status: null }, /status must be one of/],
      ['totalCents', { totalCents: -1 }, /totalCents must not be less than 0/],
      ['totalCents', { totalCents: 12.5 }, /totalCents must be an integer/],
      ['totalCents', { totalCents: '100' }, /totalCents must be an integer/],
      ['totalCents', { totalCents: 2 ** 31 }, /totalCents must not be greater than 2147483647/],
      ['currency', { currency: 'eur' }, /currency must be upper case/],
      ['currency', { currency: 'ABC' }, /currency must be a valid ISO4217/],
      ['dueDate', { dueDate: '2026-02-29' }, /dueDate must be a date YYYY-MM-DD/],
      ['dueDate', { dueDate: '2026-01-31T00:00:00Z' }, /dueDate must be a date YYYY-MM-DD/],
      ['dueDate', { dueDate: '0000-01-01' }, /dueDate must be a date YYYY-MM-DD/],
      ['an unknown field', { accountId: 'other' }, /property accountId should not exist/],
    ])('answers 400 naming %s for %j', async (_, change, message) => {
      const res = await call(app, 'POST', `/accounts/${account()}/invoices`, { ...valid, ...change });
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(message);
    });

    it.each(['number', 'totalCents', 'currency', 'dueDate'])('answers 400 when %s is missing', async (field) => {
      const body: Record<string, unknown> = { ...valid };
      delete body[field];
      const res = await call(app, 'POST', `/accounts/${account()}/invoices`, body);
      expectStatus(res, 400);
      expect(errorOf(res).message).toContain(field);
    });

    it('answers 400 for a bad account id, malformed JSON and a missing body', async () => {
      expectStatus(await call(app, 'POST', '/accounts/bad%20id/invoices', valid), 400);
      const malformed = await call(app, 'POST', `/accounts/${account()}/invoices`, '{"number":', {
        'content-type': 'application/json',
      });
      expectStatus(malformed, 400);
      expectStatus(await call(app, 'POST', `/accounts/${account()}/invoices`), 400);
      const { rows } = await ctx().sql.query(`SELECT count(*)::int AS n FROM billing.invoices WHERE number = $1`, [
        valid.number,
      ]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('PATCH /invoices/:id', () => {
    it('changes the amount and the due date; the trigger bumps updated_at', async () => {
      const invoice = await createInvoice(app, account());
      const before = await updatedAtMicros(invoice.id);
      const res = await call(app, 'PATCH', `/invoices/${invoice.id}`, { totalCents: 5000, dueDate: '2026-09-30' });
      expectStatus(res, 200);
      const body = json<InvoiceBody>(res);
      expect(Object.keys(body)).toEqual(INVOICE_FIELDS);
      expect(body).toMatchObject({
        id: invoice.id,
        number: invoice.number,
        status: 'draft',
        totalCents: 5000,
        dueDate: '2026-09-30',
      });
      expect(await updatedAtMicros(invoice.id)).toBeGreaterThan(before);
      expect(Date.parse(body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(invoice.updatedAt));
    });

    it('bumps updated_at for writes made outside the API too', async () => {
      const invoice = await createInvoice(app, account());
      const before = await updatedAtMicros(invoice.id);
      await ctx().sql.query(`UPDATE billing.invoices SET total_cents = total_cents + 1 WHERE id = $1`, [invoice.id]);
      expect(await updatedAtMicros(invoice.id)).toBeGreaterThan(before);
    });

    it('follows draft → open → paid and draft/open → void', async () => {
      const paid = await createInvoice(app, account());
      for (const status of ['open', 'open', 'paid']) {
        const res = await call(app, 'PATCH', `/invoices/${paid.id}`, { status });
        expectStatus(res, 200);
        expect(json(res).status).toBe(status);
      }
      const voided = await createInvoice(app, account(), { status: 'open' });
      expect(json(await call(app, 'PATCH', `/invoices/${voided.id}`, { status: 'void' })).status).toBe('void');
      // Status and amount in one request: the rules apply to the invoice as it was.
      const both = await createInvoice(app, account(), { status: 'open' });
      const res = await call(app, 'PATCH', `/invoices/${both.id}`, { status: 'paid', totalCents: 7 });
      expectStatus(res, 200);
      expect(json(res)).toMatchObject({ status: 'paid', totalCents: 7 });
    });

    it.each([
      ['paid', { status: 'open' }, /status cannot change from paid to open/],
      ['void', { status: 'paid' }, /status cannot change from void to paid/],
      ['draft', { status: 'paid' }, /status cannot change from draft to paid/],
      ['paid', { totalCents: 1 }, /invoice is paid: totalCents and dueDate change only while it is draft or open/],
      ['void', { dueDate: '2030-01-01' }, /invoice is void/],
    ])('answers 409 for a %s invoice and %j, and writes nothing', async (status, change, message) => {
      const invoice = await createInvoice(app, account(), { status });
      const res = await call(app, 'PATCH', `/invoices/${invoice.id}`, change);
      expectStatus(res, 409);
      expect(errorOf(res).message).toMatch(message);
      const { rows } = await ctx().sql.query(
        `SELECT status, total_cents, due_date::text AS due FROM billing.invoices WHERE id = $1`,
        [invoice.id],
      );
      expect(rows).toEqual([{ status, total_cents: 1250, due: '2026-03-31' }]);
    });

    it.each([
      [{}, /body must set at least one of status, totalCents, dueDate/],
      [{ totalCents: null }, /totalCents/],
      [{ dueDate: '2026-13-01' }, /dueDate must be a date YYYY-MM-DD/],
      [{ status: 'closed' }, /status must be one of/],
      [{ number: 'INV-NEW' }, /property number should not exist/],
      [{ currency: 'USD' }, /property currency should not exist/],
    ])('answers 400 for %j', async (change, message) => {
      const invoice = await createInvoice(app, account());
      const res = await call(app, 'PATCH', `/invoices/${invoice.id}`, change);
      expectStatus(res, 400);
      expect(errorOf(res).message).toMatch(message);
    });

    it('answers 400 for a path id that is not a UUID and 404 for an unknown one', async () => {
      expectStatus(await call(app, 'PATCH', '/invoices/not-a-uuid', { totalCents: 1 }), 400);
      const res = await call(app, 'PATCH', `/invoices/${UNKNOWN_ID}`, { totalCents: 1 });
      expectStatus(res, 404);
      expect(errorOf(res).message).toBe(`invoice ${UNKNOWN_ID} not found`);
    });
  });

  describe('DELETE /invoices/:id', () => {
    it('deletes with 204, then answers 404', async () => {
      const acct = account();
      const keep = await createInvoice(app, acct);
      const gone = await createInvoice(app, acct, { dueDate: '2026-01-01' });
      const res = await call(app, 'DELETE', `/invoices/${gone.id}`);
      expectStatus(res, 204);
      expect(res.body).toBe('');
      expect(json(await list(app, acct)).map((i: InvoiceBody) => i.id)).toEqual([keep.id]);
      expectStatus(await call(app, 'DELETE', `/invoices/${gone.id}`), 404);
      expectStatus(await call(app, 'PATCH', `/invoices/${gone.id}`, { totalCents: 1 }), 404);
    });

    it('answers 400 for a path id that is not a UUID', async () => {
      expectStatus(await call(app, 'DELETE', '/invoices/123'), 400);
    });
  });

  describe('health, schema and boot', () => {
    it('loads no demo data outside development', async () => {
      expect(json(await list(app, 'acme'))).toEqual([]);
    });

    it('reports the database in /health', async () => {
      const res = await call(app, 'GET', '/health');
      expectStatus(res, 200);
      expect(json(res)).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });

    it('keeps its migrations in its own table, apart from the BFF’s', async () => {
      const billing = await ctx().sql.query(`SELECT name FROM billing_migrations`);
      expect(billing.rows.map((r) => r.name)).toEqual(['BillingInvoices1763800000000']);
      const bff = await ctx().sql.query(`SELECT name FROM cachegate_migrations`);
      expect(bff.rows.map((r) => r.name)).not.toContain('BillingInvoices1763800000000');
    });

    it('publishes its OpenAPI document', async () => {
      const res = await call(app, 'GET', '/docs-json');
      expectStatus(res, 200);
      expect(Object.keys(json(res).paths)).toEqual(
        expect.arrayContaining(['/accounts/{accountId}/invoices', '/invoices/{id}', '/stats', '/health']),
      );
    });

    it('stops at boot with one line naming BILLING_DATABASE_URL when Postgres is unreachable', async () => {
      const boot = createBillingApp({
        overrides: ctx().billingEnv({ BILLING_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/cachegate' }),
      });
      await expect(boot).rejects.toThrow(DatabaseUnreachableError);
      await expect(boot).rejects.toThrow(/unreachable at 127\.0\.0\.1:1 .*set BILLING_DATABASE_URL\.$/);
    });
  });
});

describe('billing demo seed', () => {
  const ctx = useTestContext();

  it('loads invoices for the demo accounts on the first start in development, once', async () => {
    const first = await ctx().startBilling({ NODE_ENV: 'development' });
    const acme = json(await list(first, 'acme'));
    expect(acme.length).toBeGreaterThan(0);
    expect(acme[0]).toMatchObject({ number: 'INV-ACME-0001', currency: 'EUR' });
    for (const accountId of ['globex', 'initech']) expect(json(await list(first, accountId)).length).toBeGreaterThan(0);
    const { rows } = await ctx().sql.query(`SELECT count(*)::int AS n FROM billing.invoices`);

    await ctx().startBilling({ NODE_ENV: 'development' });
    const again = await ctx().sql.query(`SELECT count(*)::int AS n FROM billing.invoices`);
    expect(again.rows[0].n).toBe(rows[0].n);
  });
});
