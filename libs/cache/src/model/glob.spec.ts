import { globMatch, wildcardCount } from './glob';

/** The same glob, as the RegExp L1 used to build (fine for short inputs, exponential on pathological ones). */
function viaRegExp(glob: string, text: string): boolean {
  const source = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(text);
}

describe('globMatch', () => {
  it.each([
    ['orders:*', 'orders:detail:o1', true],
    ['orders:*', 'orders:', true],
    ['orders:*', 'order:detail', false],
    ['orders:*', 'xorders:detail', false], // anchored at the start
    ['*:detail', 'orders:detail:x', false], // and at the end
    ['orders:detail:?', 'orders:detail:1', true],
    ['orders:detail:?', 'orders:detail:', false],
    ['orders:detail:?', 'orders:detail:12', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['?', '', false],
    ['**', 'abc', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false],
    ['a*a*b', 'aaaab', true],
    ['a*ab', 'aab', true],
    ['*ab', 'aab', true], // the star must give back what it took
    ['catalog:*:p1', 'catalog:product:p1', true],
    ['catalog:*:p1', 'catalog:product:p12', false],
    ['.+()', '.+()', true], // no character but * and ? is special
    ['a.c', 'abc', false],
    ['[a]', 'a', false],
    ['[a]', '[a]', true],
  ])('%j against %j → %s', (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it('agrees with the RegExp translation on every short pattern and text over {a, b, *, ?}', () => {
    const words = (alphabet: string[], max: number): string[] => {
      const all = [''];
      let layer = [''];
      for (let n = 1; n <= max; n++) {
        layer = layer.flatMap((w) => alphabet.map((c) => w + c));
        all.push(...layer);
      }
      return all;
    };
    const texts = words(['a', 'b'], 5);
    let compared = 0;
    for (const pattern of words(['a', 'b', '*', '?'], 4)) {
      for (const text of texts) {
        const expected = viaRegExp(pattern, text);
        if (globMatch(pattern, text) !== expected) throw new Error(`${pattern} vs ${text}: expected ${expected}`);
        compared++;
      }
    }
    expect(compared).toBe(341 * 63);
  });

  it('answers the pathological pattern that froze L1 (a RegExp would backtrack for ages)', () => {
    const key = `catalog:listing:${'a'.repeat(200)}`;
    const pattern = `catalog:${'*a'.repeat(7)}*b`; // 8 stars, as many as an admin pattern may have
    expect(globMatch(pattern, key)).toBe(false);
    expect(globMatch(pattern, `${key}b`)).toBe(true);
    // Unbounded too (the channel carries whatever was published): 5,000 stars against 10,000 `a`s.
    const huge = `${'*a'.repeat(5000)}*b`;
    expect(globMatch(huge, 'a'.repeat(10_000))).toBe(false);
    expect(globMatch(huge, `${'a'.repeat(10_000)}b`)).toBe(true);
  });

  it('counts wildcards', () => {
    expect(wildcardCount('catalog:*a?b*')).toBe(3);
    expect(wildcardCount('catalog:product')).toBe(0);
  });
});
