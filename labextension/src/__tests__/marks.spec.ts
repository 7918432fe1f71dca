import { describe, expect, it } from '@jest/globals';

import {
  MARK_ATTRIBUTE,
  applyMarks,
  clearMarks,
  locateQuote,
  rangeToQuote,
  textIndex,
  wrapRange
} from '../renderer/marks';

function dom(html: string): HTMLElement {
  const root = document.createElement('div');
  root.innerHTML = html;
  return root;
}

describe('locateQuote', () => {
  const text = 'the cat sat on the mat with the cat';

  it('uses the position when the text there is still the quote', () => {
    expect(locateQuote(text, { exact: 'cat' }, { start: 32, end: 35 })).toEqual(
      {
        start: 32,
        end: 35
      }
    );
  });

  it('falls back on prefix and suffix when the position moved', () => {
    expect(
      locateQuote(
        text,
        { exact: 'cat', prefix: 'with the ', suffix: '' },
        {
          start: 3,
          end: 6
        }
      )
    ).toEqual({ start: 32, end: 35 });
    expect(
      locateQuote(text, { exact: 'the', prefix: 'on ', suffix: ' mat' })
    ).toEqual({ start: 15, end: 18 });
  });

  it('prefers the occurrence near the scaled position between equals', () => {
    // position 64 in a 70-character source is near the end of this text.
    expect(
      locateQuote(text, { exact: 'cat' }, { start: 64, end: 67 }, 70)
    ).toEqual({ start: 32, end: 35 });
  });

  it('matches across markdown markers and collapsed whitespace', () => {
    const rendered = 'A bold claim\nand more';
    const found = locateQuote(rendered, { exact: '**bold** claim\n\nand' });
    expect(found).not.toBeNull();
    expect(rendered.slice(found!.start, found!.end)).toBe('bold claim\nand');
  });

  it('orphans a quote that is not there', () => {
    expect(locateQuote(text, { exact: 'dog' })).toBeNull();
    expect(locateQuote(text, { exact: '' })).toBeNull();
  });
});

describe('wrapRange and applyMarks', () => {
  it('wraps a range crossing elements in one mark per text node', () => {
    const root = dom('<p>Hello <b>bold</b> world</p>');
    const marks = wrapRange(root, 3, 13, () => document.createElement('mark'));

    expect(marks.map(m => m.textContent)).toEqual(['lo ', 'bold', ' wo']);
    expect(root.textContent).toBe('Hello bold world');
    expect(root.querySelector('b mark')?.textContent).toBe('bold');
  });

  it('places marks by quote and reports orphans', () => {
    const root = dom(
      '<p>The answer is <code>42</code>.</p><ul><li>one</li></ul>'
    );
    const tooltip = 'replace: forty-two';
    const { placed, orphaned } = applyMarks(root, [
      {
        id: 'h-1',
        quote: { exact: 'answer is 42', prefix: 'The ', suffix: '.' },
        title: tooltip
      },
      { id: 'h-2', quote: { exact: 'missing' } }
    ]);

    expect(orphaned).toEqual(['h-2']);
    const elements = placed.get('h-1')!;
    expect(elements.map(e => e.textContent).join('')).toBe('answer is 42');
    expect(elements[0].getAttribute(MARK_ATTRIBUTE)).toBe('h-1');
    expect(elements[0].className).toBe('jp-collab-mark');
    expect(elements[0].title).toBe(tooltip);
  });

  it('skips whitespace between blocks', () => {
    const root = dom('<p>one</p>\n<p>two</p>');
    const marks = wrapRange(root, 0, 7, () => document.createElement('mark'));
    expect(marks.map(m => m.textContent)).toEqual(['one', 'two']);
  });

  it('clears marks and keeps the text', () => {
    const root = dom('<p>Hello world</p>');
    applyMarks(root, [
      { id: 'a', quote: { exact: 'Hello' } },
      { id: 'b', quote: { exact: 'world' } }
    ]);
    clearMarks(root, 'a');
    expect(root.querySelectorAll('mark')).toHaveLength(1);
    clearMarks(root);
    expect(root.innerHTML).toBe('<p>Hello world</p>');
    expect(root.firstChild!.childNodes).toHaveLength(1);
  });
});

describe('rangeToQuote', () => {
  it('turns a DOM range into a quote with position and context', () => {
    const root = dom('<p>The quick <em>brown</em> fox jumps</p>');
    document.body.appendChild(root);
    const em = root.querySelector('em')!;
    // The test environment stubs document.createRange: a range's boundaries
    // are all rangeToQuote reads.
    const range = {
      startContainer: em.firstChild!,
      startOffset: 1,
      endContainer: root.querySelector('p')!.lastChild!,
      endOffset: 4
    } as unknown as Range;

    expect(rangeToQuote(root, range, 5)).toEqual({
      exact: 'rown fox',
      prefix: 'ick b',
      suffix: ' jump',
      start: 11,
      end: 19
    });
    expect(textIndex(root).text.slice(11, 19)).toBe('rown fox');
    root.remove();
  });

  it('reads element boundaries as the text before the child', () => {
    const root = dom('<p>ab<b>cd</b>ef</p>');
    const p = root.querySelector('p')!;
    const range = {
      startContainer: p,
      startOffset: 1,
      endContainer: p,
      endOffset: 3
    } as unknown as Range;

    expect(rangeToQuote(root, range, 2)).toMatchObject({
      exact: 'cdef',
      start: 2,
      end: 6
    });
  });
});
