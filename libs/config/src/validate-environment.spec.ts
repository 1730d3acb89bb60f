import { InvalidEnvironmentError, validateEnvironment } from './validate-environment';

describe('validateEnvironment', () => {
  it('applies the documented defaults when nothing is set', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/cachegate',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CACHE_KEY_PREFIX: '',
      CACHE_ENABLED: true,
      L1_ENABLED: true,
      L1_MAX_BYTES: 64 * 1024 * 1024,
      CDC_MAX_DELIVERIES: 5,
      CDC_RELAY_STALL_MS: 3000,
      CDC_LAG_ALERT_MS: 10_000,
      INVOICES_TTL_SECONDS: 90,
      BILLING_TIMEOUT_MS: 2000,
      INVOICES_GRACE_SECONDS: 600,
      BILLING_URL: 'http://127.0.0.1:3001',
      BILLING_PORT: 3001,
      BILLING_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/cachegate',
      LOG_LEVEL: 'info',
    });
    expect(env.ADMIN_TOKEN).toBeUndefined();
  });

  it('converts strings to numbers and booleans', () => {
    const env = validateEnvironment({ PORT: '8080', CACHE_ENABLED: 'false', L1_ENABLED: '0', CDC_RELAY: 'TRUE' });
    expect(env.PORT).toBe(8080);
    expect(env.CACHE_ENABLED).toBe(false);
    expect(env.L1_ENABLED).toBe(false);
    expect(env.CDC_RELAY).toBe(true);
  });

  it('treats empty strings as unset', () => {
    const env = validateEnvironment({ ADMIN_TOKEN: '', PORT: '' });
    expect(env.ADMIN_TOKEN).toBeUndefined();
    expect(env.PORT).toBe(3000);
  });

  it.each([
    ['PORT', 'abc', /PORT must be an integer port 1\.\.65535 \(got "abc"\)/],
    ['PORT', '70000', /PORT must be an integer port/],
    ['PORT', '12.5', /PORT must be an integer port/],
    ['CACHE_ENABLED', 'yes', /CACHE_ENABLED must be true or false/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres:\/\/ URL/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be fatal \| error/],
    ['CACHE_KEY_PREFIX', 'has space', /CACHE_KEY_PREFIX must be up to 64 characters/],
    ['CACHE_ENCRYPTION_KEY', 'short', /CACHE_ENCRYPTION_KEY must be 32 bytes encoded as base64/],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN must be at least 16 characters/],
    ['CDC_OUTBOX_RETENTION', '1 week', /CDC_OUTBOX_RETENTION must be a duration/],
    ['CDC_DUAL_PUBLISH', 'catalog', /CDC_DUAL_PUBLISH must be empty or domain:v,v/],
    ['CDC_RELAY_STALL_MS', '100', /CDC_RELAY_STALL_MS must be milliseconds >= 500 \(got 100\)/],
    ['CDC_LAG_ALERT_MS', '3000', /CDC_LAG_ALERT_MS must be milliseconds greater than CDC_RELAY_STALL_MS=3000/],
    ['CDC_LAG_ALERT_MS', '10s', /CDC_LAG_ALERT_MS must be milliseconds greater than CDC_RELAY_STALL_MS/],
    ['BILLING_PORT', '0', /BILLING_PORT must be an integer port 1\.\.65535 \(got 0\)/],
    ['BILLING_PORT', '3001x', /BILLING_PORT must be an integer port/],
    ['BILLING_DATABASE_URL', 'http://db', /BILLING_DATABASE_URL must be a postgres:\/\/ URL/],
    ['DATABASE_TIMEOUT_MS', '50', /DATABASE_TIMEOUT_MS must be milliseconds 100\.\.600000 \(got 50\)/],
    ['DATABASE_TIMEOUT_MS', '5s', /DATABASE_TIMEOUT_MS must be milliseconds 100\.\.600000/],
    ['IDEMPOTENCY_TTL', '0s', /IDEMPOTENCY_TTL must be a duration such as 90s, 30m, 24h or 7d/],
    ['IDEMPOTENCY_TTL', '86400', /IDEMPOTENCY_TTL must be a duration/],
  ])('rejects %s=%s with one line naming it', (name, value, message) => {
    const run = () => validateEnvironment({ [name]: value });
    expect(run).toThrow(InvalidEnvironmentError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('requires the encryption key in production only', () => {
    expect(() => validateEnvironment({ NODE_ENV: 'production' })).toThrow(/CACHE_ENCRYPTION_KEY/);
    expect(validateEnvironment({ NODE_ENV: 'development' }).CACHE_ENCRYPTION_KEY).toBeUndefined();
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(validateEnvironment({ NODE_ENV: 'production', CACHE_ENCRYPTION_KEY: key }).CACHE_ENCRYPTION_KEY).toBe(key);
  });

  it('reads the billing service settings', () => {
    const env = validateEnvironment({
      BILLING_PORT: '4001',
      BILLING_DATABASE_URL: 'postgresql://billing@db:5432/billing',
    });
    expect(env.BILLING_PORT).toBe(4001);
    expect(env.BILLING_DATABASE_URL).toBe('postgresql://billing@db:5432/billing');
  });

  it('requires CDC_LAG_ALERT_MS to exceed CDC_RELAY_STALL_MS', () => {
    expect(validateEnvironment({ CDC_RELAY_STALL_MS: '1000', CDC_LAG_ALERT_MS: '2500' })).toMatchObject({
      CDC_RELAY_STALL_MS: 1000,
      CDC_LAG_ALERT_MS: 2500,
    });
    expect(() => validateEnvironment({ CDC_RELAY_STALL_MS: '20000' })).toThrow(
      /CDC_LAG_ALERT_MS must be milliseconds greater than CDC_RELAY_STALL_MS=20000 \(got 10000\)/,
    );
  });

  it('reads the database timeout and the idempotency TTL (defaults 5000 ms and 24h)', () => {
    expect(validateEnvironment({})).toMatchObject({ DATABASE_TIMEOUT_MS: 5000, IDEMPOTENCY_TTL: '24h' });
    expect(validateEnvironment({ DATABASE_TIMEOUT_MS: '1000', IDEMPOTENCY_TTL: '90s' })).toMatchObject({
      DATABASE_TIMEOUT_MS: 1000,
      IDEMPOTENCY_TTL: '90s',
    });
  });

  it('accepts dual publishing lists', () => {
    expect(validateEnvironment({ CDC_DUAL_PUBLISH: 'catalog:1,2;orders:1,2' }).CDC_DUAL_PUBLISH).toBe(
      'catalog:1,2;orders:1,2',
    );
  });
});
