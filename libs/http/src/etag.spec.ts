import { computeEtag, ifMatchMatches, ifNoneMatchMatches } from './etag';

describe('etags', () => {
  const etag = computeEtag(Buffer.from('{"a":1}'));

  it('is a quoted strong validator that changes with the bytes', () => {
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(computeEtag(Buffer.from('{"a":1}'))).toBe(etag);
    expect(computeEtag(Buffer.from('{"a":2}'))).not.toBe(etag);
  });

  it('matches If-None-Match weakly, in lists, and for *', () => {
    expect(ifNoneMatchMatches(etag, etag)).toBe(true);
    expect(ifNoneMatchMatches(`W/${etag}`, etag)).toBe(true);
    expect(ifNoneMatchMatches(`"other", ${etag}`, etag)).toBe(true);
    expect(ifNoneMatchMatches('*', etag)).toBe(true);
    expect(ifNoneMatchMatches('"other"', etag)).toBe(false);
    expect(ifNoneMatchMatches(undefined, etag)).toBe(false);
  });

  it('matches If-Match strongly', () => {
    expect(ifMatchMatches(etag, etag)).toBe(true);
    expect(ifMatchMatches(`W/${etag}`, etag)).toBe(false);
    expect(ifMatchMatches('*', etag)).toBe(true);
    expect(ifMatchMatches('"nope"', etag)).toBe(false);
  });
});
