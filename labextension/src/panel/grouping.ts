/**
 * What the context panel shows, computed from a context (no DOM): entries
 * grouped into facts and process rules with their provenance, verdict counts,
 * and highlights that no longer anchor on their answer.
 */
import {
  IAmendment,
  ICollabContext,
  IPreviewResult,
  ICorrection,
  IHighlight,
  Verdict
} from '../api/wire';
import { spanFromWire } from '../offsets';
import { emptyVerdictCounts } from '../preview/verdict';

export type IVerdictCounts = Record<Verdict, number>;

/**
 * One amendment with what it came from.
 */
export interface IEntryView {
  amendment: IAmendment;
  /**
   * Its place in the context's amendment list (prompt order).
   */
  index: number;
  enabled: boolean;
  highlight: IHighlight | null;
  correction: ICorrection | null;
  verdicts: IVerdictCounts;
}

export interface IGroupedEntries {
  facts: IEntryView[];
  process: IEntryView[];
}

/**
 * How many preview probes got each verdict.
 */
export function countVerdicts(results: IPreviewResult[]): IVerdictCounts {
  const counts: IVerdictCounts = emptyVerdictCounts();
  for (const result of results) {
    if (result.verdict in counts) {
      counts[result.verdict] += 1;
    }
  }
  return counts;
}

/**
 * The context's amendments (superseded ones left out) grouped by kind, in
 * prompt order, each with its highlight and correction.
 */
export function groupEntries(context: ICollabContext): IGroupedEntries {
  const highlights = new Map(context.highlights.map(h => [h.id, h]));
  const corrections = new Map(context.corrections.map(c => [c.id, c]));
  const grouped: IGroupedEntries = { facts: [], process: [] };
  context.amendments.forEach((amendment, index) => {
    if (amendment.status === 'superseded') {
      return;
    }
    const provenance = amendment.provenance ?? { source: 'user' };
    const view: IEntryView = {
      amendment,
      index,
      enabled: amendment.status === 'accepted',
      highlight: provenance.highlight_id
        ? (highlights.get(provenance.highlight_id) ?? null)
        : null,
      correction: provenance.correction_id
        ? (corrections.get(provenance.correction_id) ?? null)
        : null,
      verdicts: countVerdicts(amendment.preview ?? [])
    };
    (amendment.kind === 'fact' ? grouped.facts : grouped.process).push(view);
  });
  return grouped;
}

/**
 * Where a highlight stands on its cell's current answer.
 */
export type AnchorState = 'exact' | 'moved' | 'orphaned';

/**
 * Place a stored highlight on the cell's current answer: at its position,
 * elsewhere (the quote occurs again), or orphaned (the cell or the quote is
 * gone). `answer` is `undefined` when the cell no longer exists.
 */
export function anchorState(
  highlight: IHighlight,
  answer: string | null | undefined
): AnchorState {
  if (answer === undefined || answer === null) {
    return 'orphaned';
  }
  const { start, end } = spanFromWire(answer, highlight.position);
  const exact = highlight.quote.exact;
  if (answer.slice(start, end) === exact) {
    return 'exact';
  }
  return answer.includes(exact) ? 'moved' : 'orphaned';
}

/**
 * The highlights that no longer anchor on their answer.
 *
 * @param answerOf - the current answer of a cell id (`undefined`: no such
 *   cell; `null`: the cell has no answer)
 */
export function orphanedHighlights(
  context: ICollabContext,
  answerOf: (cellId: string) => string | null | undefined
): IHighlight[] {
  return context.highlights.filter(
    highlight =>
      !!highlight.cell_id &&
      anchorState(highlight, answerOf(highlight.cell_id)) === 'orphaned'
  );
}

/**
 * `dir/analysis.ipynb` → `dir/analysis.collab.json` (the sidecar).
 */
export function sidecarPath(notebookPath: string): string {
  return notebookPath.replace(/\.ipynb$/, '') + '.collab.json';
}
