import { EntryCodec } from './entry-codec';

describe('EntryCodec', () => {
  const key = Buffer.alloc(32, 1).toString('base64');
  const entry = { body: Buffer.from('{"customerEmail":"ann@example.com"}'), etag: '"abc"', storedAt: 1234 };

  it('round-trips a plain entry', () => {
    const codec = new EntryCodec(key);
    const raw = codec.encode(entry, false);
    expect(raw.toString()).toContain('ann@example.com');
    expect(codec.decode(raw)).toEqual({ ...entry, upstreamEtag: undefined });
  });

  it('encrypts the body so the raw value hides personal data', () => {
    const codec = new EntryCodec(key);
    const raw = codec.encode(entry, true);
    expect(raw.toString('latin1')).not.toContain('ann@example.com');
    expect(codec.decode(raw)?.body.toString()).toBe(entry.body.toString());
  });

  it('uses a fresh IV per write', () => {
    const codec = new EntryCodec(key);
    expect(codec.encode(entry, true).equals(codec.encode(entry, true))).toBe(false);
  });

  it('keeps the upstream etag', () => {
    const codec = new EntryCodec(key);
    expect(codec.decode(codec.encode({ ...entry, upstreamEtag: 'W/"u1"' }, false))?.upstreamEtag).toBe('W/"u1"');
  });

  it('cannot read an entry sealed with another key or a corrupt value', () => {
    const raw = new EntryCodec(key).encode(entry, true);
    expect(new EntryCodec(Buffer.alloc(32, 2).toString('base64')).decode(raw)).toBeUndefined();
    expect(new EntryCodec(key).decode(Buffer.from('garbage'))).toBeUndefined();
  });

  it('refuses a key of the wrong length and encrypting without a key', () => {
    expect(() => new EntryCodec(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
    expect(() => new EntryCodec().encode(entry, true)).toThrow(/no cache encryption key/);
  });
});
