import { describe, expect, it } from '@jest/globals';

import {
  MARK_ATTRIBUTE,
  applyMarks,
  clearMarks,
  rangeToQuote,
  renderedSpan,
  textIndex,
  wrapRange
} from '../renderer/marks';
import { spanFromWire } from '../offsets';
import { anchoringCases } from './anchoringFixtures';

function dom(html: string): HTMLElement {
  const root = document.createElement('div');
  root.innerHTML = html;
  return root;
}

describe('renderedSpan', () => {
  const source = 'the cat sat on the mat with the cat';

  it('keeps the offsets when the rendered text there is the same', () => {
    expect(renderedSpan(source, source, { start: 32, end: 35 })).toEqual({
      start: 32,
      end: 35
    });
  });

  it('finds the span nearest its share of the text when markup moved it', () => {
    const markdown = 'the **cat** sat on the mat with the **cat**';
    const rendered = 'the cat sat on the mat with the cat';
    expect(renderedSpan(rendered, markdown, { start: 38, end: 41 })).toEqual({
      start: 32,
      end: 35
    });
    expect(renderedSpan(rendered, markdown, { start: 6, end: 9 })).toEqual({
      start: 4,
      end: 7
    });
  });

  it('matches across markdown markers and collapsed whitespace', () => {
    const markdown = 'A **bold** claim\n\nand more';
    const rendered = 'A bold claim\nand more';
    const found = renderedSpan(rendered, markdown, { start: 2, end: 21 });
    expect(found).not.toBeNull();
    expect(rendered.slice(found!.start, found!.end)).toBe('bold claim\nand');
  });

  it('reports a span that does not show', () => {
    expect(renderedSpan('rendered', 'source dog', { start: 7, end: 10 })).toBe(
      null
    );
    expect(renderedSpan(source, source, { start: 3, end: 3 })).toBeNull();
  });
});

describe("the core's placements, rendered", () => {
  it.each(anchoringCases.filter(c => c.expected.status !== 'orphaned'))(
    'marks "$name" where the core placed it',
    c => {
      const text = c.text!;
      // Rendered markdown: the **emphasis** markers are gone from the DOM text.
      const root = dom(
        '<p>' +
          text
            .replace(/&/g, '&amp;')
            .replace(/</g, '&lt;')
            .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>') +
          '</p>'
      );
      const span = spanFromWire(text, {
        start: c.expected.start!,
        end: c.expected.end!
      });
      const { placed, orphaned } = applyMarks(root, [
        { id: 'h', source: text, span }
      ]);
      expect(orphaned).toEqual([]);
      const marked = placed
        .get('h')!
        .map(e => e.textContent)
        .join('');
      expect(marked).toBe(
        text.slice(span.start, span.end).replace(/\*\*/g, '')
      );
    }
  );
});

describe('wrapRange and applyMarks', () => {
  it('wraps a range crossing elements in one mark per text node', () => {
    const root = dom('<p>Hello <b>bold</b> world</p>');
    const marks = wrapRange(root, 3, 13, () => document.createElement('mark'));

    expect(marks.map(m => m.textContent)).toEqual(['lo ', 'bold', ' wo']);
    expect(root.textContent).toBe('Hello bold world');
    expect(root.querySelector('b mark')?.textContent).toBe('bold');
  });

  it('places marks on their spans and reports those that do not show', () => {
    const root = dom(
      '<p>The answer is <code>42</code>.</p><ul><li>one</li></ul>'
    );
    const tooltip = 'replace: forty-two';
    const source = 'The answer is `42`.\n\n- one';
    const { placed, orphaned } = applyMarks(root, [
      { id: 'h-1', source, span: { start: 4, end: 18 }, title: tooltip },
      { id: 'h-2', source: 'missing', span: { start: 0, end: 7 } }
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
    const source = 'Hello world';
    applyMarks(root, [
      { id: 'a', source, span: { start: 0, end: 5 } },
      { id: 'b', source, span: { start: 6, end: 11 } }
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
