import { describe, expect, it } from '@jest/globals';

import { domSelection } from '../feedback/selection';
import {
  IDomSelection,
  QUOTE_CONTEXT,
  alignOffsets,
  locateSelection,
  makeQuote,
  trimSelection
} from '../feedback/selectors';

function dom(text: string, exact: string, nth = 0): IDomSelection {
  let start = -1;
  for (let i = 0; i <= nth; i++) {
    start = text.indexOf(exact, start + 1);
  }
  return {
    exact,
    start,
    text,
    prefix: text.slice(Math.max(0, start - QUOTE_CONTEXT), start),
    suffix: text.slice(
      start + exact.length,
      start + exact.length + QUOTE_CONTEXT
    )
  };
}

describe('makeQuote', () => {
  it('keeps 32 characters of context on each side', () => {
    const text = 'a'.repeat(50) + 'QUOTE' + 'b'.repeat(50);
    const quote = makeQuote(text, 50, 55);
    expect(quote).toEqual({
      type: 'TextQuoteSelector',
      exact: 'QUOTE',
      prefix: 'a'.repeat(32),
      suffix: 'b'.repeat(32)
    });
  });
});

describe('locateSelection', () => {
  it('maps a unique span of rendered text to raw offsets', () => {
    const raw = 'The **reward hacking** results are in (Smith et al., 2019).';
    const rendered = 'The reward hacking results are in (Smith et al., 2019).';
    const found = locateSelection(raw, dom(rendered, 'Smith et al., 2019'))!;
    expect(raw.slice(found.position.start, found.position.end)).toBe(
      'Smith et al., 2019'
    );
    expect(found.quote.exact).toBe('Smith et al., 2019');
    expect(found.quote.prefix).toBe(
      raw.slice(Math.max(0, found.position.start - 32), found.position.start)
    );
    expect(found.quote.suffix).toBe(').');
  });

  it('picks the occurrence whose prefix and suffix match the DOM context', () => {
    const raw =
      'First, *Jones (2021)* argues for A.\n\nSecond, **Jones (2021)** argues against B.';
    const rendered =
      'First, Jones (2021) argues for A.\nSecond, Jones (2021) argues against B.';
    const second = locateSelection(raw, dom(rendered, 'Jones (2021)', 1))!;
    expect(second.position.start).toBe(raw.lastIndexOf('Jones (2021)'));
    const first = locateSelection(raw, dom(rendered, 'Jones (2021)', 0))!;
    expect(first.position.start).toBe(raw.indexOf('Jones (2021)'));
  });

  it('aligns a selection that crosses markup (no exact occurrence)', () => {
    const raw = 'It is **Amodei** et al. (2016) indeed.';
    const rendered = 'It is Amodei et al. (2016) indeed.';
    const found = locateSelection(raw, dom(rendered, 'Amodei et al.'))!;
    expect(found.quote.exact).toBe('Amodei** et al.');
    expect(raw.slice(found.position.start, found.position.end)).toBe(
      found.quote.exact
    );
  });

  it('aligns a selection across paragraphs', () => {
    const raw = 'End of one.\n\nStart of two.';
    const rendered = 'End of one.\nStart of two.';
    const found = locateSelection(raw, dom(rendered, 'one.\nStart'))!;
    expect(found.quote.exact).toBe('one.\n\nStart');
  });

  it('trims whitespace around the selection', () => {
    const rendered = 'alpha  beta gamma';
    const selection = { ...dom(rendered, ' beta '), exact: ' beta ' };
    expect(trimSelection(selection).exact).toBe('beta');
    const found = locateSelection('alpha  beta gamma', selection)!;
    expect(found.position).toEqual({
      type: 'TextPositionSelector',
      start: 7,
      end: 11
    });
  });

  it('returns null for an empty selection', () => {
    expect(locateSelection('text', dom('text', 'zz'))).toBeNull();
    expect(
      locateSelection('text', { ...dom('text', 'te'), exact: '   ' })
    ).toBeNull();
  });
});

describe('alignOffsets', () => {
  it('moves offsets over text only the raw side has', () => {
    expect(alignOffsets('ab', '**ab**', [0, 1])).toEqual([2, 3]);
  });
});

describe('domSelection', () => {
  it('reads the selection and its context from a rendered answer', () => {
    const answer = document.createElement('div');
    answer.innerHTML =
      '<p>The <strong>reward</strong> results (Smith et al., 2019).</p>';
    document.body.appendChild(answer);
    const text = answer.querySelector('p')!.lastChild as Text;
    const at = text.data.indexOf('Smith');
    const range = {
      startContainer: text,
      startOffset: at,
      endContainer: text,
      endOffset: at + 'Smith et al., 2019'.length
    } as unknown as Range;
    const selection = domSelection(answer, range);
    expect(selection.exact).toBe('Smith et al., 2019');
    expect(selection.text).toBe('The reward results (Smith et al., 2019).');
    expect(selection.prefix).toBe('The reward results (');
    expect(selection.suffix).toBe(').');
    const found = locateSelection(
      'The **reward** results (Smith et al., 2019).',
      selection
    )!;
    expect(found.position.start).toBe(24);
    answer.remove();
  });

  it('measures element boundaries and spans across elements', () => {
    const answer = document.createElement('div');
    answer.innerHTML = '<p>one <em>two</em> three</p><p>four</p>';
    const [first, second] = Array.from(answer.querySelectorAll('p'));
    const range = {
      startContainer: first,
      startOffset: 1,
      endContainer: second.firstChild,
      endOffset: 2
    } as unknown as Range;
    const selection = domSelection(answer, range);
    expect(selection.text).toBe('one two threefour');
    expect(selection.exact).toBe('two threefo');
    expect(selection.start).toBe(4);
  });
});
