/**
 * The unobtrusive line under an answer: token usage and provenance.
 */
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
export function usageText(usage: IUsage): string {
  const parts = [
    `${number.format(totalInput(usage))} in / ${number.format(usage.output_tokens)} out`
  ];
  if (usage.cache_read_input_tokens) {
    parts.push(`${number.format(usage.cache_read_input_tokens)} cached`);
  }
  if (usage.cache_creation_input_tokens) {
    parts.push(
      `${number.format(usage.cache_creation_input_tokens)} written to cache`
    );
  }
  return parts.join(' · ');
}

/**
 * "model · mode · context r3".
 */
export function provenanceText(result: ICompletionResult): string {
  return [
    result.model,
    result.mode,
    `context r${result.context_revision}`
  ].join(' · ');
}

/**
 * The details shown on hover.
 */
export function provenanceDetails(result: ICompletionResult): string {
  const lines = [
    `Provider: ${result.provider}`,
    `Model: ${result.model}`,
    `Mode: ${result.mode}`,
    `Response: ${result.response_id}`,
    `Context revision: ${result.context_revision} (${result.context_hash})`,
    `Input hash: ${result.input_hash}`,
    `Created: ${result.created}`,
    `Duration: ${result.duration_s.toFixed(1)} s`
  ];
  if (result.stop_reason) {
    lines.push(`Stop reason: ${result.stop_reason}`);
  }
  if (result.included_amendments.length) {
    lines.push(`Amendments used: ${result.included_amendments.join(', ')}`);
  }
  if (result.omitted_amendments.length) {
    lines.push(
      `Left out (over the token budget): ${result.omitted_amendments.join(', ')}`
    );
  }
  return lines.join('\n');
}

/**
 * The footer element.
 */
export function createFooter(
  result: ICompletionResult,
  orphaned: number
): HTMLElement {
  const footer = document.createElement('div');
  footer.className = 'jp-collab-footer';
  footer.title = provenanceDetails(result);
  const usage = document.createElement('span');
  usage.className = 'jp-collab-usage';
  usage.textContent = usageText(result.usage);
  const provenance = document.createElement('span');
  provenance.className = 'jp-collab-provenance';
  provenance.textContent = provenanceText(result);
  footer.append(usage, provenance);
  if (result.stop_reason === 'max_tokens') {
    footer.append(note('cut at the maximum length (--max-tokens)'));
  }
  if (orphaned > 0) {
    footer.append(
      note(
        orphaned === 1
          ? '1 highlight no longer matches the text'
          : `${orphaned} highlights no longer match the text`
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
