/**
 * Key popularity for the `workload` scenario: a few products are read very
 * often and most rarely, as a shop's catalogue is (Zipf's law, s ≈ 1).
 */

/**
 * A seeded generator of uniform numbers in [0, 1) (mulberry32): each load
 * worker gets its own seed, so every system measured is offered the same
 * streams of operations, however far it gets through them.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ranks 0 … n−1 with P(rank k) = (k + 1)^−s / H(n, s), drawn by inverting the cumulative distribution. */
export class ZipfSampler {
  /** cdf[k] = P(rank ≤ k); the last is 1. */
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly s = 1,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Zipf needs at least one rank, got ${n}`);
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) this.cdf[k] = sum += (k + 1) ** -s;
    for (let k = 0; k < n; k++) this.cdf[k] /= sum;
    this.cdf[n - 1] = 1; // no rounding gap at the top
  }

  probability(rank: number): number {
    return this.cdf[rank] - (rank === 0 ? 0 : this.cdf[rank - 1]);
  }

  /** The rank a uniform `u` in [0, 1) falls on: the first k with cdf[k] > u. */
  rank(u: number): number {
    let low = 0;
    let high = this.n - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cdf[mid] > u) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}
