/**
 * The unobtrusive line under an answer: token usage and provenance.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { ICompletionResult, IUsage } from '../api';

const number = new Intl.NumberFormat('en-US');

/**
 * Total input tokens, cached ones included (`Usage.total_input_tokens`).
 */
export function totalInput(usage: IUsage): number {
  return (
    usage.input_tokens +
    (usage.cache_read_input_tokens ?? 0) +
    (usage.cache_creation_input_tokens ?? 0)
  );
}

/**
 * "1,234 in / 56 out · 1,000 cached" (cache parts only when non-zero).
 */
export function usageText(usage: IUsage, trans: TranslationBundle): string {
  const parts = [
    trans.__(
      '%1 in / %2 out',
      number.format(totalInput(usage)),
      number.format(usage.output_tokens)
    )
  ];
  if (usage.cache_read_input_tokens) {
    parts.push(
      trans.__('%1 cached', number.format(usage.cache_read_input_tokens))
    );
  }
  if (usage.cache_creation_input_tokens) {
    parts.push(
      trans.__(
        '%1 written to cache',
        number.format(usage.cache_creation_input_tokens)
      )
    );
  }
  return parts.join(' · ');
}

/**
 * "model · mode · context r3".
 */
export function provenanceText(
  result: ICompletionResult,
  trans: TranslationBundle
): string {
  return [
    result.model,
    result.mode,
    trans.__('context r%1', result.context_revision)
  ].join(' · ');
}

/**
 * The details shown on hover.
 */
export function provenanceDetails(
  result: ICompletionResult,
  trans: TranslationBundle
): string {
  const lines = [
    trans.__('Provider: %1', result.provider),
    trans.__('Model: %1', result.model),
    trans.__('Mode: %1', result.mode),
    trans.__('Response: %1', result.response_id),
    trans.__(
      'Context revision: %1 (%2)',
      result.context_revision,
      result.context_hash
    ),
    trans.__('Input hash: %1', result.input_hash),
    trans.__('Created: %1', result.created),
    trans.__('Duration: %1 s', result.duration_s.toFixed(1))
  ];
  if (result.stop_reason) {
    lines.push(trans.__('Stop reason: %1', result.stop_reason));
  }
  if (result.included_amendments.length) {
    lines.push(
      trans.__('Amendments used: %1', result.included_amendments.join(', '))
    );
  }
  if (result.omitted_amendments.length) {
    lines.push(
      trans.__(
        'Left out (over the token budget): %1',
        result.omitted_amendments.join(', ')
      )
    );
  }
  return lines.join('\n');
}

/**
 * The footer element.
 */
export function createFooter(
  result: ICompletionResult,
  orphaned: number,
  trans: TranslationBundle
): HTMLElement {
  const footer = document.createElement('div');
  footer.className = 'jp-collab-footer';
  footer.title = provenanceDetails(result, trans);
  const usage = document.createElement('span');
  usage.className = 'jp-collab-usage';
  usage.textContent = usageText(result.usage, trans);
  const provenance = document.createElement('span');
  provenance.className = 'jp-collab-provenance';
  provenance.textContent = provenanceText(result, trans);
  footer.append(usage, provenance);
  if (result.stop_reason === 'max_tokens') {
    footer.append(note(trans.__('cut at the maximum length (--max-tokens)')));
  }
  if (orphaned > 0) {
    footer.append(
      note(
        trans._n(
          '%1 highlight no longer matches the text',
          '%1 highlights no longer match the text',
          orphaned
        )
      )
    );
  }
  return footer;
}

function note(text: string): HTMLElement {
  const element = document.createElement('span');
  element.className = 'jp-collab-footer-note';
  element.textContent = text;
  return element;
}
