import { seededRandom, ZipfSampler } from './zipf';

describe('seededRandom', () => {
  it('gives the same stream for the same seed, another for another, always in [0, 1)', () => {
    const a = seededRandom(16);
    const b = seededRandom(16);
    const c = seededRandom(17);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(first);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first)).toBeLessThan(1);
  });
});

describe('ZipfSampler', () => {
  it('gives rank k the probability (k + 1)^-s / H(n, s)', () => {
    const zipf = new ZipfSampler(1000, 1);
    let harmonic = 0;
    for (let k = 1; k <= 1000; k++) harmonic += 1 / k;
    expect(zipf.probability(0)).toBeCloseTo(1 / harmonic, 12);
    expect(zipf.probability(9)).toBeCloseTo(1 / 10 / harmonic, 12);
    expect(zipf.probability(0) / zipf.probability(99)).toBeCloseTo(100, 6);
    const total = Array.from({ length: 1000 }, (_, k) => zipf.probability(k)).reduce((x, y) => x + y, 0);
    expect(total).toBeCloseTo(1, 12);
  });

  it('maps a uniform number to the first rank whose cumulative probability exceeds it', () => {
    const zipf = new ZipfSampler(4, 1); // weights 1, 1/2, 1/3, 1/4 of 25/12
    const p0 = 12 / 25;
    expect(zipf.rank(0)).toBe(0);
    expect(zipf.rank(p0 - 1e-9)).toBe(0);
    expect(zipf.rank(p0 + 1e-9)).toBe(1);
    expect(zipf.rank(0.999999)).toBe(3);
  });

  it('draws ranks with those frequencies (s = 1 over 100,000 ranks)', () => {
    const zipf = new ZipfSampler(100_000, 1);
    const random = seededRandom(1);
    const counts = new Map<number, number>();
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const rank = zipf.rank(random());
      counts.set(rank, (counts.get(rank) ?? 0) + 1);
    }
    // H(100000) ≈ 12.09: the top rank takes about 8.3 % of draws, the top ten about 24 %.
    expect((counts.get(0) ?? 0) / draws).toBeCloseTo(zipf.probability(0), 2);
    const topTen = Array.from({ length: 10 }, (_, k) => counts.get(k) ?? 0).reduce((x, y) => x + y, 0);
    const expectedTopTen = Array.from({ length: 10 }, (_, k) => zipf.probability(k)).reduce((x, y) => x + y, 0);
    expect(topTen / draws).toBeCloseTo(expectedTopTen, 2);
    // A long tail: most ranks drawn at most once, and none outside the range.
    expect(Math.max(...counts.keys())).toBeLessThan(100_000);
    expect(counts.size).toBeGreaterThan(30_000);
  });

  it('refuses an empty range', () => {
    expect(() => new ZipfSampler(0)).toThrow(/at least one rank/);
  });
});
