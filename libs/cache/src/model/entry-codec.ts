import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CacheEntry } from './cache-entry';

interface Header {
  e: string;
  t: number;
  u?: string;
  /** 1 when the body is AES-256-GCM ciphertext. */
  x?: 1;
}

const NEWLINE = 0x0a;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The Redis value of an entry: one JSON header line, then the body. Buckets
 * holding personal data encrypt the body (AES-256-GCM, random IV per write),
 * so the raw value never shows an email or an address.
 */
export class EntryCodec {
  private readonly key: Buffer | undefined;

  /** `base64Key` is 32 bytes in base64; without it the codec refuses to encrypt. */
  constructor(base64Key?: string) {
    if (base64Key !== undefined) {
      this.key = Buffer.from(base64Key, 'base64');
      if (this.key.length !== 32) throw new Error('cache encryption key must be 32 bytes');
    }
  }

  encode(entry: CacheEntry, encrypt: boolean): Buffer {
    const header: Header = { e: entry.etag, t: entry.storedAt };
    if (entry.upstreamEtag !== undefined) header.u = entry.upstreamEtag;
    let payload = entry.body;
    if (encrypt) {
      header.x = 1;
      payload = this.encrypt(entry.body);
    }
    return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), payload]);
  }

  /** Returns undefined for a value this codec cannot read (corrupt, or encrypted with another key). */
  decode(raw: Buffer): CacheEntry | undefined {
    const newline = raw.indexOf(NEWLINE);
    if (newline < 0) return undefined;
    try {
      // Bounds given to toString rather than a subarray: one Buffer object less on every L2 hit.
      const header = JSON.parse(raw.toString('utf8', 0, newline)) as Header;
      let body = raw.subarray(newline + 1);
      if (header.x === 1) body = this.decrypt(body);
      return { body, etag: header.e, storedAt: header.t, upstreamEtag: header.u };
    } catch {
      return undefined;
    }
  }

  private encrypt(plain: Buffer): Buffer {
    if (!this.key) throw new Error('no cache encryption key configured');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), encrypted]);
  }

  private decrypt(sealed: Buffer): Buffer {
    if (!this.key) throw new Error('no cache encryption key configured');
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}
