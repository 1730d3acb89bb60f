const STAR = 0x2a; // '*'
const QUESTION = 0x3f; // '?'

/**
 * Glob matching for cache keys: `*` (any run of characters, also none) and `?`
 * (exactly one character); every other character matches itself. No escapes,
 * no classes: admin patterns cannot contain `[`, `]` or `\` (cache-key.ts).
 *
 * Iterative two-pointer matching, never a RegExp built from the pattern: a
 * RegExp from `*a*a*a*…*b` backtracks exponentially in the number of stars
 * against a key full of `a`s (an admin flush froze an instance that way). Here
 * a mismatch only moves the last `*` seen one character further, so the work
 * is at most O(pattern length × text length), whatever the pattern.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  /** Position of the last `*` seen in the pattern (-1: none yet), and where in the text it is tried to end. */
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && c === STAR) {
      // Let the star match nothing for now; on a later mismatch it takes one more character.
      star = p++;
      starText = t;
    } else if (p < pattern.length && (c === QUESTION || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  // The text is used up: what is left of the pattern must be stars only.
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

/** How many `*` and `?` a pattern holds. */
export function wildcardCount(pattern: string): number {
  let n = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === STAR || c === QUESTION) n++;
  }
  return n;
}
