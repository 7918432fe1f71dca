/**
 * Span offsets between the wire and the browser.
 *
 * A highlight's position on the wire (`TextPositionSelector`) counts Unicode
 * code points, as Python's `str` does; JavaScript strings index UTF-16 code
 * units, where a character outside the Basic Multilingual Plane (most emoji)
 * takes two. Every conversion between the two goes through this module.
 */

/**
 * A span of a text: `[start, end)`.
 */
export interface ISpan {
  start: number;
  end: number;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * The code-point offset of the UTF-16 offset `utf16` of `text` (clamped to
 * the text). An offset between the two halves of a surrogate pair counts the
 * whole character.
 */
export function codePointOffset(text: string, utf16: number): number {
  const limit = Math.min(Math.max(0, utf16), text.length);
  let count = 0;
  for (let i = 0; i < limit; i++) {
    const continuesPair =
      i > 0 &&
      isLowSurrogate(text.charCodeAt(i)) &&
      isHighSurrogate(text.charCodeAt(i - 1));
    if (!continuesPair) {
      count++;
    }
  }
  return count;
}

/**
 * The UTF-16 offset of the code-point offset `codePoints` of `text` (clamped
 * to the text's length).
 */
export function utf16Offset(text: string, codePoints: number): number {
  let at = 0;
  for (let counted = 0; counted < codePoints && at < text.length; counted++) {
    const pair =
      isHighSurrogate(text.charCodeAt(at)) &&
      at + 1 < text.length &&
      isLowSurrogate(text.charCodeAt(at + 1));
    at += pair ? 2 : 1;
  }
  return at;
}

/**
 * A span of `text` in UTF-16 code units → the same span as the wire counts it.
 */
export function spanToWire(text: string, span: ISpan): ISpan {
  return {
    start: codePointOffset(text, span.start),
    end: codePointOffset(text, span.end)
  };
}

/**
 * A span of `text` as the wire counts it → the same span in UTF-16 code units.
 */
export function spanFromWire(text: string, span: ISpan): ISpan {
  return {
    start: utf16Offset(text, span.start),
    end: utf16Offset(text, span.end)
  };
}
