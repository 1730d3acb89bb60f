/** Redis could not serve a cache operation (down, slow, or the circuit is open). Never reaches a client. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
