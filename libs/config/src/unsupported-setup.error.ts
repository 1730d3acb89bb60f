/**
 * A dependency is reachable but set up in a way cachegate cannot keep its
 * guarantees under (e.g. a Redis eviction policy that may evict fence
 * markers). The boot stops with its message, one line that says what to change.
 */
export class UnsupportedSetupError extends Error {
  override readonly name = 'UnsupportedSetupError';
}
