import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'fs';
import { join } from 'path';

import { IHighlight } from '../api/wire';
import { selectorsFor } from '../feedback/selectors';
import {
  codePointOffset,
  spanFromWire,
  spanToWire,
  utf16Offset
} from '../offsets';
import { markSpecs } from '../renderer/answer';
import { trans } from './translationFixtures';

/**
 * The answer and spans pytest checks in both doors
 * (`tests/test_highlight_offsets.py`); start/end are code points.
 */
interface IOffsetsFixture {
  answer: string;
  spans: { quote: string; start: number; end: number }[];
}

const fixture: IOffsetsFixture = JSON.parse(
  readFileSync(
    join(
      __dirname,
      '..',
      '..',
      '..',
      'tests',
      'shared_fixtures',
      'highlight_offsets.json'
    ),
    'utf-8'
  )
);
const answer = fixture.answer;

function codePoints(text: string): string[] {
  return Array.from(text);
}

function storedHighlight(start: number, end: number, exact: string) {
  return {
    id: 'h-1',
    cell_id: 'cell-1',
    position: { type: 'TextPositionSelector', start, end },
    quote: { type: 'TextQuoteSelector', exact, prefix: '', suffix: '' },
    created: '2026-01-01T00:00:00Z',
    rev: 1
  } as IHighlight;
}

describe('offsets', () => {
  it('has spans that UTF-16 offsets would misplace', () => {
    const shifted = fixture.spans.filter(
      span => answer.indexOf(span.quote) !== span.start
    );
    expect(shifted.length).toBeGreaterThanOrEqual(4);
  });

  it.each(fixture.spans)('converts the span of "$quote"', span => {
    const start = answer.indexOf(span.quote);
    const browserSpan = { start, end: start + span.quote.length };
    const wireSpan = { start: span.start, end: span.end };
    expect(spanToWire(answer, browserSpan)).toEqual(wireSpan);
    expect(spanFromWire(answer, wireSpan)).toEqual(browserSpan);
    expect(codePoints(answer).slice(span.start, span.end).join('')).toBe(
      span.quote
    );
  });

  it.each(fixture.spans)(
    'gives "$quote" the selectors Python gives it',
    span => {
      const start = answer.indexOf(span.quote);
      const selectors = selectorsFor(answer, start, start + span.quote.length);
      expect(selectors.position).toEqual({
        type: 'TextPositionSelector',
        start: span.start,
        end: span.end
      });
      // make_quote: 32 code points on each side.
      const points = codePoints(answer);
      expect(selectors.quote).toEqual({
        type: 'TextQuoteSelector',
        exact: span.quote,
        prefix: points.slice(Math.max(0, span.start - 32), span.start).join(''),
        suffix: points.slice(span.end, span.end + 32).join('')
      });
    }
  );

  it('counts a surrogate pair once, whichever half an offset points at', () => {
    const text = 'a😀b';
    expect(codePointOffset(text, 1)).toBe(1);
    expect(codePointOffset(text, 2)).toBe(2);
    expect(codePointOffset(text, 3)).toBe(2);
    expect(codePointOffset(text, 4)).toBe(3);
    expect(utf16Offset(text, 2)).toBe(3);
    expect(utf16Offset(text, 3)).toBe(4);
  });

  it('clamps offsets past the text', () => {
    expect(codePointOffset('😀', 10)).toBe(1);
    expect(utf16Offset('😀', 10)).toBe(2);
    expect(codePointOffset('😀', -1)).toBe(0);
  });

  it('marks stored highlights where the server placed them', () => {
    for (const span of fixture.spans) {
      const highlight = storedHighlight(span.start, span.end, span.quote);
      const [spec] = markSpecs(
        [{ highlight, corrections: [], amendment_ids: [] }],
        [
          {
            id: highlight.id,
            status: 'exact',
            start: span.start,
            end: span.end,
            score: 1
          }
        ],
        answer,
        trans
      );
      const start = answer.indexOf(span.quote);
      expect(spec.span).toEqual({
        start,
        end: start + span.quote.length
      });
    }
  });
});
