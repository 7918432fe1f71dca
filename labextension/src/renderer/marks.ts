/**
 * Marks on rendered text: show a span of an answer's source in the text of
 * its rendered DOM and wrap it in elements, without disturbing the rest of
 * the DOM.
 *
 * Where a highlight sits on the answer (exact, moved or orphaned, and its
 * span) is the server's decision (`core/operations/anchoring.py`, through
 * `POST anchors`); this module only finds that source span in the rendered
 * text, which differs from the markdown source (no `**`, collapsed blank
 * lines): the same offsets when the text there is the same, else the nearest
 * occurrence of the span's text, else the same comparison with whitespace
 * collapsed and emphasis/code markers dropped.
 *
 * Offsets are in the subtree's text (`textIndex(root).text`, i.e. the
 * concatenated text nodes), UTF-16 code units like the source span.
 */

export interface IQuote {
  exact: string;
  prefix?: string;
  suffix?: string;
}

export interface IPosition {
  start: number;
  end: number;
}

/**
 * One mark to place.
 */
export interface IMarkSpec {
  /** Written to `data-collab-mark` on every element of the mark. */
  id: string;
  /** The text the DOM renders (e.g. the answer's markdown). */
  source: string;
  /** The span of `source` to mark (UTF-16), as the server placed it. */
  span: IPosition;
  /** Defaults to `jp-collab-mark`. */
  className?: string;
  /** A tooltip. */
  title?: string;
  /** Extra attributes for each element of the mark. */
  attributes?: Record<string, string>;
}

export const MARK_CLASS = 'jp-collab-mark';
export const MARK_ATTRIBUTE = 'data-collab-mark';

/**
 * The text of a subtree and where each text node starts in it.
 */
export interface ITextIndex {
  text: string;
  nodes: Text[];
  starts: number[];
}

/**
 * Index the text nodes under `root`, in document order.
 */
export function textIndex(root: Node): ITextIndex {
  const doc = root.ownerDocument ?? (root as Document);
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  const starts: number[] = [];
  let text = '';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    nodes.push(node as Text);
    starts.push(text.length);
    text += (node as Text).data;
  }
  return { text, nodes, starts };
}

/**
 * Every start offset of `needle` in `hay`.
 */
function occurrences(hay: string, needle: string): number[] {
  const found: number[] = [];
  if (!needle) {
    return found;
  }
  for (
    let at = hay.indexOf(needle);
    at >= 0;
    at = hay.indexOf(needle, at + 1)
  ) {
    found.push(at);
  }
  return found;
}

/**
 * The occurrence nearest to `expected`.
 */
function nearest(starts: number[], expected: number): number {
  return starts.reduce((best, start) =>
    Math.abs(start - expected) < Math.abs(best - expected) ? start : best
  );
}

/**
 * Text with whitespace runs collapsed to one space and markdown emphasis and
 * code markers dropped, and where each kept character came from.
 */
function normalized(text: string): { text: string; map: number[] } {
  let out = '';
  const map: number[] = [];
  let space = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (/\s/.test(char)) {
      space = out.length > 0;
      continue;
    }
    if (char === '*' || char === '_' || char === '`') {
      continue;
    }
    if (space) {
      out += ' ';
      map.push(i - 1);
      space = false;
    }
    out += char;
    map.push(i);
  }
  return { text: out, map };
}

/**
 * Where `source.slice(span.start, span.end)` shows in `text` (the rendered
 * form of `source`), or null when it does not.
 */
export function renderedSpan(
  text: string,
  source: string,
  span: IPosition
): IPosition | null {
  const exact = source.slice(span.start, span.end);
  if (!exact) {
    return null;
  }
  if (text.slice(span.start, span.end) === exact) {
    return { start: span.start, end: span.end };
  }
  // Rendering drops markup, so the span sits at about the same share of the text.
  const expected = Math.round(
    (span.start * text.length) / Math.max(1, source.length)
  );
  const found = occurrences(text, exact);
  if (found.length > 0) {
    const start = nearest(found, expected);
    return { start, end: start + exact.length };
  }
  const hay = normalized(text);
  const needle = normalized(exact).text;
  const loose = occurrences(hay.text, needle);
  if (loose.length === 0) {
    return null;
  }
  const scaled = Math.round(
    (expected * hay.text.length) / Math.max(1, text.length)
  );
  const start = nearest(loose, scaled);
  return {
    start: hay.map[start],
    end: hay.map[start + needle.length - 1] + 1
  };
}

/**
 * Wrap the text between `start` and `end` (offsets in `textIndex(root)`) in
 * elements made by `create`, one per text node it crosses; whitespace-only
 * pieces (between block elements) are left alone.
 */
export function wrapRange(
  root: Node,
  start: number,
  end: number,
  create: () => HTMLElement
): HTMLElement[] {
  const { nodes, starts } = textIndex(root);
  const wrapped: HTMLElement[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const nodeStart = starts[i];
    const nodeEnd = nodeStart + nodes[i].data.length;
    if (nodeEnd <= start || nodeStart >= end) {
      continue;
    }
    let piece = nodes[i];
    const from = Math.max(start, nodeStart) - nodeStart;
    const to = Math.min(end, nodeEnd) - nodeStart;
    if (from > 0) {
      piece = piece.splitText(from);
    }
    if (to - from < piece.data.length) {
      piece.splitText(to - from);
    }
    if (!piece.data.trim() || !piece.parentNode) {
      continue;
    }
    const element = create();
    piece.parentNode.insertBefore(element, piece);
    element.appendChild(piece);
    wrapped.push(element);
  }
  return wrapped;
}

/**
 * Place marks under `root`.
 *
 * @returns the elements of each placed mark, and the ids of those whose span
 *   does not show in the rendered text
 */
export function applyMarks(
  root: HTMLElement,
  specs: IMarkSpec[]
): { placed: Map<string, HTMLElement[]>; orphaned: string[] } {
  const placed = new Map<string, HTMLElement[]>();
  const orphaned: string[] = [];
  for (const spec of specs) {
    const { text } = textIndex(root);
    const where = renderedSpan(text, spec.source, spec.span);
    const elements = where
      ? wrapRange(root, where.start, where.end, () => markElement(root, spec))
      : [];
    if (elements.length > 0) {
      placed.set(spec.id, elements);
    } else {
      orphaned.push(spec.id);
    }
  }
  return { placed, orphaned };
}

function markElement(root: HTMLElement, spec: IMarkSpec): HTMLElement {
  const element = (root.ownerDocument ?? document).createElement('mark');
  element.className = spec.className ?? MARK_CLASS;
  element.setAttribute(MARK_ATTRIBUTE, spec.id);
  if (spec.title) {
    element.title = spec.title;
  }
  for (const [name, value] of Object.entries(spec.attributes ?? {})) {
    element.setAttribute(name, value);
  }
  return element;
}

/**
 * Remove marks (all, or those of one id), keeping their text.
 */
export function clearMarks(root: HTMLElement, id?: string): void {
  const selector =
    id === undefined
      ? `[${MARK_ATTRIBUTE}]`
      : `[${MARK_ATTRIBUTE}="${id.replace(/["\\]/g, '\\$&')}"]`;
  for (const element of Array.from(root.querySelectorAll(selector))) {
    const parent = element.parentNode;
    if (!parent) {
      continue;
    }
    while (element.firstChild) {
      parent.insertBefore(element.firstChild, element);
    }
    parent.removeChild(element);
    parent.normalize();
  }
}

/**
 * The offset in `textIndex(root).text` of a DOM boundary point (as in a
 * Selection or Range), or null when it is outside `root`.
 */
export function textOffset(
  root: Node,
  node: Node,
  offset: number
): number | null {
  if (node !== root && !root.contains(node)) {
    return null;
  }
  const { nodes, starts, text } = textIndex(root);
  if (node.nodeType === Node.TEXT_NODE) {
    const index = nodes.indexOf(node as Text);
    return index < 0 ? null : starts[index] + offset;
  }
  // An element boundary: before its offset-th child, or at its end.
  const child = node.childNodes[offset] ?? null;
  const after = (text: Text): boolean =>
    child
      ? child === text ||
        child.contains(text) ||
        !!(
          child.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_FOLLOWING
        )
      : !node.contains(text) &&
        !!(
          node.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_FOLLOWING
        );
  const index = nodes.findIndex(after);
  return index < 0 ? text.length : starts[index];
}

/**
 * A range under `root` as a text quote with its position and `context`
 * characters of prefix and suffix (the shape of the server's selectors), or
 * null when the range is empty or not inside `root`.
 */
export function rangeToQuote(
  root: Node,
  range: Range,
  context = 32
): (IQuote & IPosition) | null {
  const start = textOffset(root, range.startContainer, range.startOffset);
  const end = textOffset(root, range.endContainer, range.endOffset);
  if (start === null || end === null || end <= start) {
    return null;
  }
  const { text } = textIndex(root);
  return {
    exact: text.slice(start, end),
    prefix: text.slice(Math.max(0, start - context), start),
    suffix: text.slice(end, end + context),
    start,
    end
  };
}
