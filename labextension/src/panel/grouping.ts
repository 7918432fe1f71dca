/**
 * What the context panel shows, computed from a context (no DOM): entries
 * grouped into facts and process rules with their provenance, verdict counts,
 * and highlights that no longer anchor on their answer.
 */
import {
  IAmendment,
  IAnchorPlacement,
  IAnchorQuery,
  ICollabContext,
  IPreviewResult,
  ICorrection,
  IHighlight,
  Verdict
} from '../api/wire';
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
 * What the server needs to place the context's highlights on the notebook's
 * current answers (the anchoring rule itself is the core's).
 *
 * @param answerOf - the current answer of a cell id (`undefined`: no such
 *   cell; `null`: the cell has no answer); both are sent as no text
 */
export function anchorQueries(
  context: ICollabContext,
  answerOf: (cellId: string) => string | null | undefined
): IAnchorQuery[] {
  return context.highlights
    .filter(highlight => !!highlight.cell_id)
    .map(highlight => ({
      id: highlight.id,
      text: answerOf(highlight.cell_id!) ?? null,
      position: highlight.position,
      quote: highlight.quote
    }));
}

/**
 * The highlights the server found orphaned, in the context's order.
 */
export function orphanedHighlights(
  context: ICollabContext,
  placements: IAnchorPlacement[]
): IHighlight[] {
  const orphaned = new Set(
    placements.filter(p => p.status === 'orphaned').map(p => p.id)
  );
  return context.highlights.filter(highlight => orphaned.has(highlight.id));
}

/**
 * `dir/analysis.ipynb` → `dir/analysis.collab.json` (the sidecar).
 */
export function sidecarPath(notebookPath: string): string {
  return notebookPath.replace(/\.ipynb$/, '') + '.collab.json';
}
