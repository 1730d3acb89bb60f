import { createHash } from 'node:crypto';
import { jsonRepresentation } from './json-representation';

describe('jsonRepresentation', () => {
  const view = [{ id: 'a', number: 'INV-1', status: 'open', totalCents: 1250, currency: 'EUR', dueDate: '2026-01-31' }];

  it('is the JSON bytes and a strong ETag over exactly them', () => {
    const { body, etag } = jsonRepresentation(view);
    expect(body.toString('utf8')).toBe(JSON.stringify(view));
    expect(etag).toBe(`"${createHash('sha1').update(body).digest('base64url')}"`);
    expect(etag).not.toMatch(/^W\//);
  });

  it('is stable for equal views and changes with any byte', () => {
    expect(jsonRepresentation(structuredClone(view)).etag).toBe(jsonRepresentation(view).etag);
    expect(jsonRepresentation([{ ...view[0], totalCents: 1251 }]).etag).not.toBe(jsonRepresentation(view).etag);
    expect(jsonRepresentation([]).etag).not.toBe(jsonRepresentation(view).etag);
  });

  it('keeps non-ASCII text as UTF-8', () => {
    const { body } = jsonRepresentation({ name: 'Zürich €' });
    expect(JSON.parse(body.toString('utf8'))).toEqual({ name: 'Zürich €' });
    expect(body.length).toBe(Buffer.byteLength(JSON.stringify({ name: 'Zürich €' })));
  });
});
