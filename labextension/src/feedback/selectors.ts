/**
 * From a selection in the *rendered* answer to W3C selectors on the *raw*
 * (markdown) answer text.
 *
 * The rendered DOM text differs from the raw markdown (emphasis markers,
 * link targets, list bullets…), so the selected text is located in the raw
 * answer: every exact occurrence is scored on how well the 32 characters of
 * DOM text before and after the selection agree with the raw text around it
 * (a W3C TextQuoteSelector's prefix/suffix), with the relative position as a
 * tie-breaker. When the selection crosses markup and has no exact occurrence,
 * the DOM text is aligned with the raw text by a character diff (jsdiff) and
 * the selection's offsets are mapped through that alignment.
 */
import { diffChars } from 'diff';
import { ITextPositionSelector, ITextQuoteSelector } from '../api/wire';
import { codePointOffset, spanToWire, utf16Offset } from '../offsets';
import { commonPrefix, commonSuffix } from '../textMatch';

/**
 * How many characters of context a quote selector keeps on each side.
 */
export const QUOTE_CONTEXT = 32;

/**
 * A selection in the rendered answer: its text and the DOM text around it.
 */
export interface IDomSelection {
  /**
   * The selected text as the browser reports it.
   */
  exact: string;
  /**
   * Up to {@link QUOTE_CONTEXT} characters of rendered text before the selection.
   */
  prefix: string;
  /**
   * Up to {@link QUOTE_CONTEXT} characters of rendered text after the selection.
   */
  suffix: string;
  /**
   * Offset of the selection in the whole rendered text (a position hint).
   */
  start: number;
  /**
   * The whole rendered text of the answer.
   */
  text: string;
}

/**
 * Both selectors of a span of the raw answer, as the wire has them (the
 * position in code points).
 */
export interface IAnswerSelectors {
  position: ITextPositionSelector;
  quote: ITextQuoteSelector;
}

/**
 * The quote selector of `text[start:end]` (UTF-16 offsets) with `context`
 * code points on each side, as the server's `make_quote` counts them (so the
 * context never ends inside a surrogate pair).
 */
export function makeQuote(
  text: string,
  start: number,
  end: number,
  context: number = QUOTE_CONTEXT
): ITextQuoteSelector {
  const before = Math.max(0, codePointOffset(text, start) - context);
  const after = codePointOffset(text, end) + context;
  return {
    type: 'TextQuoteSelector',
    exact: text.slice(start, end),
    prefix: text.slice(utf16Offset(text, before), start),
    suffix: text.slice(end, utf16Offset(text, after))
  };
}

/**
 * Both selectors of `text[start:end]` (UTF-16 offsets), ready for the wire.
 */
export function selectorsFor(
  text: string,
  start: number,
  end: number
): IAnswerSelectors {
  return {
    position: {
      type: 'TextPositionSelector',
      ...spanToWire(text, { start, end })
    },
    quote: makeQuote(text, start, end)
  };
}

/**
 * Trim whitespace from both ends of a selection, keeping prefix/suffix right.
 */
export function trimSelection(selection: IDomSelection): IDomSelection {
  const lead = selection.exact.length - selection.exact.trimStart().length;
  const exact = selection.exact.trim();
  const start = selection.start + lead;
  const end = start + exact.length;
  const text = selection.text;
  if (text.slice(start, end) !== exact) {
    // The rendered text is not the selection's source: keep the given context.
    return { ...selection, exact };
  }
  return {
    ...selection,
    exact,
    start,
    prefix: text.slice(Math.max(0, start - QUOTE_CONTEXT), start),
    suffix: text.slice(end, end + QUOTE_CONTEXT)
  };
}

/**
 * Every start offset of `needle` in `haystack` (overlapping ones too).
 */
export function occurrences(haystack: string, needle: string): number[] {
  const found: number[] = [];
  if (!needle) {
    return found;
  }
  let index = haystack.indexOf(needle);
  while (index !== -1 && found.length < 1000) {
    found.push(index);
    index = haystack.indexOf(needle, index + 1);
  }
  return found;
}

/**
 * Letters and digits only, lower-cased: markup and spacing do not count when
 * comparing rendered context with raw context.
 */
export function plain(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * How well an occurrence at `start..end` of `raw` agrees with the selection's
 * rendered context (0..1 per side), plus a small position bonus.
 */
export function scoreOccurrence(
  raw: string,
  start: number,
  end: number,
  selection: IDomSelection
): number {
  const window = QUOTE_CONTEXT * 2;
  const before = plain(raw.slice(Math.max(0, start - window), start));
  const after = plain(raw.slice(end, end + window));
  const wantBefore = plain(selection.prefix);
  const wantAfter = plain(selection.suffix);
  const left = wantBefore.length
    ? commonSuffix(before, wantBefore) / wantBefore.length
    : before.length === 0
      ? 1
      : 0.5;
  const right = wantAfter.length
    ? commonPrefix(after, wantAfter) / wantAfter.length
    : after.length === 0
      ? 1
      : 0.5;
  const hint = selection.text.length
    ? (selection.start / selection.text.length) * raw.length
    : 0;
  const closeness =
    1 - Math.min(1, Math.abs(start - hint) / Math.max(1, raw.length));
  return left + right + 0.1 * closeness;
}

/**
 * Map an offset of the rendered text to an offset of the raw text through a
 * character alignment of the two.
 */
export function alignOffsets(
  rendered: string,
  raw: string,
  offsets: number[]
): number[] {
  const changes = diffChars(rendered, raw);
  const result = offsets.map(() => -1);
  let renderedAt = 0;
  let rawAt = 0;
  for (const change of changes) {
    const length = change.value.length;
    if (change.added) {
      rawAt += length;
      continue;
    }
    offsets.forEach((offset, i) => {
      if (
        result[i] === -1 &&
        offset >= renderedAt &&
        offset < renderedAt + length
      ) {
        // Inside a common run the offsets move together; inside a removed run
        // (rendered-only text) they stick to the raw position.
        result[i] = change.removed ? rawAt : rawAt + (offset - renderedAt);
      }
    });
    renderedAt += length;
    if (!change.removed) {
      rawAt += length;
    }
  }
  return result.map(value => (value === -1 ? rawAt : value));
}

/**
 * Locate a rendered selection in the raw answer.
 *
 * @returns the raw span's selectors, or `null` when the selection is empty or
 *   cannot be placed on the raw text
 */
export function locateSelection(
  raw: string,
  selection: IDomSelection
): IAnswerSelectors | null {
  const trimmed = trimSelection(selection);
  if (!trimmed.exact || !raw) {
    return null;
  }
  const found = occurrences(raw, trimmed.exact);
  if (found.length > 0) {
    let best = found[0];
    let bestScore = -Infinity;
    for (const start of found) {
      const score = scoreOccurrence(
        raw,
        start,
        start + trimmed.exact.length,
        trimmed
      );
      if (score > bestScore) {
        best = start;
        bestScore = score;
      }
    }
    return selectorsFor(raw, best, best + trimmed.exact.length);
  }
  // The selection crosses markup: align the rendered text with the raw one.
  const renderedStart = trimmed.text
    .slice(trimmed.start)
    .startsWith(trimmed.exact)
    ? trimmed.start
    : trimmed.text.indexOf(trimmed.exact);
  if (renderedStart < 0) {
    return null;
  }
  const [start, end] = alignOffsets(trimmed.text, raw, [
    renderedStart,
    renderedStart + trimmed.exact.length - 1
  ]);
  const rawEnd = end + 1;
  if (start < 0 || rawEnd <= start) {
    return null;
  }
  const span = raw.slice(start, rawEnd).trim();
  if (!span) {
    return null;
  }
  const spanStart = raw.indexOf(span, start);
  return selectorsFor(raw, spanStart, spanStart + span.length);
}
