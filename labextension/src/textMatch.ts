/**
 * Character-level helpers for matching a quote's prefix and suffix against
 * text around a candidate position (used by the renderer's marks and by the
 * feedback selection mapping).
 */

/** How many trailing characters ``a`` and ``b`` share. */
export function commonSuffix(a: string, b: string): number {
  let n = 0;
  while (
    n < a.length &&
    n < b.length &&
    a[a.length - 1 - n] === b[b.length - 1 - n]
  ) {
    n++;
  }
  return n;
}

/** How many leading characters ``a`` and ``b`` share. */
export function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) {
    n++;
  }
  return n;
}
