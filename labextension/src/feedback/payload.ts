/**
 * The collaborator cell's output bundle (`core/outputs.py`): reading the
 * `application/vnd.jupyter.collab+json` payload and adding a finalized
 * highlight to it, with the `text/markdown` and `text/html` fallbacks
 * rebuilt the way the server builds them, so GitHub and nbviewer show the
 * annotation too.
 */
import { COLLAB_MIME } from '../mimetypes';
import { spanFromWire } from '../offsets';
import {
  IAmendment,
  IAnnotatedHighlight,
  ICollabContext,
  ICollabOutput,
  ICompletionResult
} from '../api/wire';

export { COLLAB_MIME };

/**
 * The MIME payload (`CollabOutput`).
 */
export type ICollabPayload = ICollabOutput;

/**
 * Whether a MIME bundle value looks like a collab payload.
 */
export function isCollabPayload(value: unknown): value is ICollabPayload {
  const payload = value as ICollabPayload | null;
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof payload.result === 'object' &&
    payload.result !== null &&
    typeof payload.result.answer === 'string'
  );
}

/**
 * The annotated highlight a finalized amendment leaves on its answer: the
 * context's highlight and correction named by its provenance.
 */
export function annotationFor(
  context: ICollabContext,
  amendment: IAmendment
): IAnnotatedHighlight | null {
  const highlightId = amendment.provenance?.highlight_id;
  const highlight = context.highlights.find(h => h.id === highlightId);
  if (!highlight) {
    return null;
  }
  return {
    highlight,
    corrections: context.corrections.filter(
      c => c.highlight_id === highlight.id
    ),
    amendment_ids: [amendment.id]
  };
}

/**
 * The payload with `annotation` added (or merged into the entry of the same
 * highlight id). The input is not changed.
 */
export function withAnnotation(
  payload: ICollabPayload,
  annotation: IAnnotatedHighlight
): ICollabPayload {
  const highlights = [...(payload.highlights ?? [])];
  const at = highlights.findIndex(
    h => h.highlight.id === annotation.highlight.id
  );
  if (at >= 0) {
    const ids = new Set([
      ...highlights[at].amendment_ids,
      ...annotation.amendment_ids
    ]);
    highlights[at] = { ...annotation, amendment_ids: [...ids] };
  } else {
    highlights.push(annotation);
  }
  return { ...payload, highlights };
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#x27;');
}

function usageLine(result: ICompletionResult): string {
  const usage = result.usage ?? {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0
  };
  const total =
    (usage.input_tokens ?? 0) +
    (usage.cache_read_input_tokens ?? 0) +
    (usage.cache_creation_input_tokens ?? 0);
  const parts = [result.model, `${total} in / ${usage.output_tokens ?? 0} out`];
  if (usage.cache_read_input_tokens) {
    parts.push(`${usage.cache_read_input_tokens} from cache`);
  }
  parts.push(`context r${result.context_revision}`);
  return parts.join(' · ');
}

function correctionText(item: IAnnotatedHighlight): string {
  return (
    item.corrections.map(c => c.text || c.operation).join('; ') || 'highlighted'
  );
}

/**
 * The `text/markdown` fallback (as `outputs._markdown`).
 */
export function markdownFallback(payload: ICollabPayload): string {
  const notes: string[] = [];
  for (const item of payload.highlights ?? []) {
    const quote = item.highlight.quote.exact.replace(/\n/g, ' ');
    for (const correction of item.corrections) {
      const what = correction.text || correction.operation;
      notes.push(
        `> **Correction** on “${quote}” (${correction.operation}): ${what}`
      );
    }
    if (!item.corrections.length) {
      notes.push(`> **Highlighted:** “${quote}”`);
    }
  }
  const footer = `\n\n<sub>${escapeHtml(usageLine(payload.result))}</sub>`;
  return (
    payload.result.answer +
    (notes.length ? '\n\n' + notes.join('\n>\n') : '') +
    footer
  );
}

/**
 * The `text/html` fallback (as `outputs._html`).
 */
export function htmlFallback(payload: ICollabPayload): string {
  const answer = payload.result.answer;
  const spans = (payload.highlights ?? [])
    .map(item => ({ item, ...spanFromWire(answer, item.highlight.position) }))
    .filter(
      ({ item, start, end }) =>
        start < end && answer.slice(start, end) === item.highlight.quote.exact
    )
    .sort((a, b) => a.start - b.start);
  const pieces: string[] = [];
  const notes: string[] = [];
  let cursor = 0;
  for (const { item, start, end } of spans) {
    if (start < cursor) {
      continue;
    }
    pieces.push(escapeHtml(answer.slice(cursor, start)));
    const title = correctionText(item);
    pieces.push(
      `<mark class="jp-collab-highlight" title="${escapeHtml(title)}">` +
        `${escapeHtml(answer.slice(start, end))}</mark><sup>${notes.length + 1}</sup>`
    );
    notes.push(`<li>${escapeHtml(title)}</li>`);
    cursor = end;
  }
  pieces.push(escapeHtml(answer.slice(cursor)));
  const notesHtml = notes.length
    ? `<ol class="jp-collab-notes">${notes.join('')}</ol>`
    : '';
  return (
    '<div class="jp-collab-output">' +
    `<div class="jp-collab-answer" style="white-space: pre-wrap">${pieces.join('')}</div>` +
    notesHtml +
    `<div class="jp-collab-usage"><small>${escapeHtml(usageLine(payload.result))}` +
    '</small></div></div>'
  );
}

/**
 * The whole `data` of the display output for `payload`.
 */
export function bundleData(payload: ICollabPayload): Record<string, unknown> {
  return {
    [COLLAB_MIME]: payload,
    'text/markdown': markdownFallback(payload),
    'text/html': htmlFallback(payload)
  };
}
