/**
 * Warnings on a candidate amendment: it repeats or contradicts an entry that
 * is already in the constitution. The server flags its own proposals; an
 * amendment the researcher writes (or edits) is checked here the same way
 * (`operations/common.normalize` and a ratio of at least 0.9).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { diffChars } from 'diff';

import { IAmendment, ICollabContext } from '../api/wire';

export const DUPLICATE_RATIO = 0.9;

export interface IAmendmentWarning {
  kind: 'duplicate' | 'contradicts';
  id: string;
  text: string;
}

/**
 * Case, punctuation and spacing removed.
 */
export function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/**
 * 0..1 similarity of two entry texts after {@link normalize}.
 */
export function similarity(a: string, b: string): number {
  const left = normalize(a);
  const right = normalize(b);
  if (!left || !right) {
    return left === right ? 1 : 0;
  }
  if (left === right) {
    return 1;
  }
  let common = 0;
  for (const change of diffChars(left, right)) {
    if (!change.added && !change.removed) {
      common += change.value.length;
    }
  }
  return (2 * common) / (left.length + right.length);
}

function live(context: ICollabContext | null | undefined): IAmendment[] {
  return (context?.amendments ?? []).filter(a => a.status !== 'superseded');
}

/**
 * The warnings of a candidate: the ids the server flagged (pass them only
 * while the text is the one the server saw), plus any entry the text repeats.
 */
export function amendmentWarnings(
  text: string,
  context: ICollabContext | null | undefined,
  flagged: { duplicates?: string[]; contradicts?: string[] } = {}
): IAmendmentWarning[] {
  const entries = live(context);
  const byId = new Map(entries.map(entry => [entry.id, entry]));
  const warnings: IAmendmentWarning[] = [];
  const seen = new Set<string>();
  const add = (kind: IAmendmentWarning['kind'], id: string, shared = false) => {
    const entry = byId.get(id);
    if ((entry || shared) && !seen.has(`${kind}:${id}`)) {
      seen.add(`${kind}:${id}`);
      warnings.push({ kind, id, text: entry?.text ?? '' });
    }
  };
  // The server checks against every layer: an id it flags that this notebook's
  // context lacks is an entry of the project or personal layer.
  for (const id of flagged.contradicts ?? []) {
    add('contradicts', id, true);
  }
  for (const id of flagged.duplicates ?? []) {
    add('duplicate', id, true);
  }
  if (text.trim()) {
    for (const entry of entries) {
      if (similarity(text, entry.text) >= DUPLICATE_RATIO) {
        add('duplicate', entry.id);
      }
    }
  }
  return warnings;
}

/**
 * One sentence for a warning.
 */
export function describeWarning(
  warning: IAmendmentWarning,
  trans: TranslationBundle
): string {
  const quote =
    warning.text.length > 80 ? `${warning.text.slice(0, 79)}…` : warning.text;
  if (!warning.text) {
    return warning.kind === 'duplicate'
      ? trans.__('Repeats entry %1 of a shared layer (see Layers)', warning.id)
      : trans.__(
          'Contradicts entry %1 of a shared layer (see Layers)',
          warning.id
        );
  }
  return warning.kind === 'duplicate'
    ? trans.__('Repeats an existing entry: “%1”', quote)
    : trans.__('Contradicts an existing entry: “%1”', quote);
}
