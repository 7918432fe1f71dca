/**
 * A word-level diff of a baseline and an amended answer (jsdiff's
 * `diffWordsWithSpace`), rendered as two columns: the baseline with its
 * removed words marked, the amended answer with its added words marked.
 */
import { diffWordsWithSpace } from 'diff';

/**
 * One run of text in a column: common, removed (baseline only) or added
 * (amended only).
 */
export interface IDiffPart {
  text: string;
  kind: 'same' | 'removed' | 'added';
}

export interface ISideBySide {
  baseline: IDiffPart[];
  amended: IDiffPart[];
  /**
   * Whether the two texts differ at all.
   */
  changed: boolean;
  /**
   * Words added and removed.
   */
  added: number;
  removed: number;
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * Split the word diff of `baseline` → `amended` into the two columns.
 */
export function sideBySide(baseline: string, amended: string): ISideBySide {
  const result: ISideBySide = {
    baseline: [],
    amended: [],
    changed: false,
    added: 0,
    removed: 0
  };
  for (const change of diffWordsWithSpace(baseline, amended)) {
    if (change.added) {
      result.amended.push({ text: change.value, kind: 'added' });
      result.added += words(change.value);
      result.changed = true;
    } else if (change.removed) {
      result.baseline.push({ text: change.value, kind: 'removed' });
      result.removed += words(change.value);
      result.changed = true;
    } else {
      result.baseline.push({ text: change.value, kind: 'same' });
      result.amended.push({ text: change.value, kind: 'same' });
    }
  }
  return result;
}

/**
 * Render one column: plain text nodes for common runs, `<del>`/`<ins>` for
 * the others (text only: answers are never parsed as HTML here).
 */
export function renderColumn(parts: IDiffPart[]): HTMLElement {
  const column = document.createElement('div');
  column.className = 'jp-collab-diff-text';
  for (const part of parts) {
    if (part.kind === 'same') {
      column.appendChild(document.createTextNode(part.text));
    } else {
      const node = document.createElement(
        part.kind === 'added' ? 'ins' : 'del'
      );
      node.className =
        part.kind === 'added'
          ? 'jp-collab-diff-added'
          : 'jp-collab-diff-removed';
      node.textContent = part.text;
      column.appendChild(node);
    }
  }
  return column;
}
