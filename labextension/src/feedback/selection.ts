/**
 * Reading the browser's selection inside a rendered collaborator answer.
 */
import { IDomSelection, QUOTE_CONTEXT } from './selectors';

/**
 * The class of the element the renderer puts the answer text in.
 */
export const ANSWER_CLASS = 'jp-collab-answer';

/**
 * A non-empty selection that lies inside one rendered answer.
 */
export interface IAnswerSelection {
  /**
   * The rendered answer element holding the selection.
   */
  answer: HTMLElement;
  /**
   * The selected range (a copy: the page's selection may change later).
   */
  range: Range;
  /**
   * The selection in terms of the rendered text.
   */
  dom: IDomSelection;
}

function elementOf(node: Node | null): Element | null {
  if (!node) {
    return null;
  }
  return node.nodeType === Node.ELEMENT_NODE
    ? (node as Element)
    : node.parentElement;
}

/**
 * The rendered answer element that contains `node`, if any.
 */
export function answerElementOf(node: Node | null): HTMLElement | null {
  return (elementOf(node)?.closest(`.${ANSWER_CLASS}`) as HTMLElement) ?? null;
}

/**
 * The offset in `root`'s text (its text nodes concatenated, as
 * `textContent`) of the boundary point (`container`, `offset`).
 */
export function textOffset(
  root: Node,
  container: Node,
  offset: number
): number {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const boundary =
    container.nodeType === Node.TEXT_NODE
      ? null
      : (container.childNodes[offset] ?? null);
  let total = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node === container) {
      return total + offset;
    }
    let before: boolean;
    if (container.nodeType === Node.TEXT_NODE) {
      before = !!(
        node.compareDocumentPosition(container) &
        Node.DOCUMENT_POSITION_FOLLOWING
      );
    } else if (boundary) {
      before =
        !boundary.contains(node) &&
        !!(
          node.compareDocumentPosition(boundary) &
          Node.DOCUMENT_POSITION_FOLLOWING
        );
    } else {
      before =
        container.contains(node) ||
        !!(
          node.compareDocumentPosition(container) &
          Node.DOCUMENT_POSITION_FOLLOWING
        );
    }
    if (!before) {
      break;
    }
    total += (node as Text).data.length;
  }
  return total;
}

/**
 * The rendered-text view of `range` inside `answer`.
 */
export function domSelection(answer: HTMLElement, range: Range): IDomSelection {
  const text = answer.textContent ?? '';
  const start = textOffset(answer, range.startContainer, range.startOffset);
  const end = Math.max(
    start,
    textOffset(answer, range.endContainer, range.endOffset)
  );
  const exact = text.slice(start, end);
  return {
    exact,
    start,
    text,
    prefix: text.slice(Math.max(0, start - QUOTE_CONTEXT), start),
    suffix: text.slice(end, end + QUOTE_CONTEXT)
  };
}

/**
 * The page's current selection when it is a non-empty span of one answer.
 */
export function currentAnswerSelection(
  selection: Selection | null = window.getSelection()
): IAnswerSelection | null {
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) {
    return null;
  }
  const range = selection.getRangeAt(0);
  const answer = answerElementOf(range.commonAncestorContainer);
  if (!answer) {
    return null;
  }
  const dom = domSelection(answer, range);
  if (!dom.exact.trim()) {
    return null;
  }
  return { answer, range: range.cloneRange(), dom };
}

/**
 * Where to anchor a popover for `range`: its last line's box, or the range's
 * box when it has no client rects.
 */
export function anchorRect(range: Range): DOMRect {
  const rects = range.getClientRects();
  if (rects.length > 0) {
    return rects[rects.length - 1];
  }
  return range.getBoundingClientRect();
}
