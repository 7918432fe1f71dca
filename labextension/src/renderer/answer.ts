/**
 * The renderer of collaborator answers (COLLAB_MIME) and of answers still
 * streaming in (STREAM_MIME).
 *
 * The answer is markdown rendered by JupyterLab's own pipeline
 * (`renderMarkdown` with the registry's parser, sanitizer, link handler and
 * LaTeX typesetter), so code blocks, math and links look like any markdown
 * cell. Model output is never trusted: it is always sanitized.
 */
import { renderMarkdown } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  CorrectionOperation,
  IAnchorPlacement,
  IAnchorQuery,
  IAnnotatedHighlight,
  ICollabOutput,
  ICorrection,
  placeHighlights
} from '../api';
import { STREAM_MIME } from '../mimetypes';
import { spanFromWire } from '../offsets';
import { IStreamingAnswer } from '../outputs';
import { activeRuns } from '../runs';
import { TRANSLATION_DOMAIN } from '../translation';
import { answerEvents } from './events';
import { createFooter } from './footer';
import { IMarkSpec, applyMarks } from './marks';

/**
 * Where the renderer asks for its highlights' places: the server's anchoring
 * (replaced in tests, where no server runs).
 */
export const anchorService = {
  place: (items: IAnchorQuery[]): Promise<IAnchorPlacement[]> =>
    placeHighlights(items)
};

export const OUTPUT_CLASS = 'jp-collab-output';
export const ANSWER_CLASS = 'jp-collab-answer';

export class RenderedCollab extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._options = options;
    this._trans = (options.translator ?? nullTranslator).load(
      TRANSLATION_DOMAIN
    );
    this.addClass(OUTPUT_CLASS);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const mimeType = this._options.mimeType;
    const payload = model.data[mimeType] as unknown;
    const render = ++this._renders;
    if (mimeType === STREAM_MIME) {
      await this._renderStreaming(payload as IStreamingAnswer, render);
    } else {
      await this._renderAnswer(payload as ICollabOutput, render);
    }
  }

  private async _renderAnswer(
    payload: ICollabOutput,
    render: number
  ): Promise<void> {
    const result = payload?.result;
    if (!result || typeof result.answer !== 'string') {
      this._replace(render, [invalid(this._trans)]);
      return;
    }
    const answer = await this._markdown(result.answer);
    if (render !== this._renders) {
      return;
    }
    const highlights = payload.highlights ?? [];
    const footer = document.createElement('div');
    this._replace(render, [answer, notes(highlights, this._trans), footer]);
    const placements = await placementsOf(highlights, result.answer);
    if (render !== this._renders) {
      return;
    }
    const { orphaned } = applyMarks(
      answer,
      markSpecs(highlights, placements, result.answer, this._trans)
    );
    for (const placement of placements) {
      if (placement.status === 'orphaned') {
        orphaned.push(placement.id);
      }
    }
    footer.replaceWith(createFooter(result, orphaned.length, this._trans));
    await this._typeset(answer);
    answerEvents.emitRendered({
      answerNode: answer,
      node: this.node,
      payload,
      orphaned
    });
  }

  private async _renderStreaming(
    payload: IStreamingAnswer,
    render: number
  ): Promise<void> {
    const text = typeof payload?.text === 'string' ? payload.text : '';
    const answer = await this._markdown(text);
    if (render !== this._renders) {
      return;
    }
    this._replace(render, [answer, streamingStatus(payload, this._trans)]);
    this.toggleClass('jp-collab-mod-streaming', isLive(payload));
  }

  private async _markdown(source: string): Promise<HTMLElement> {
    const host = document.createElement('div');
    host.className = `${ANSWER_CLASS} jp-RenderedHTMLCommon jp-RenderedMarkdown`;
    const options = this._options;
    await renderMarkdown({
      host,
      source,
      trusted: false,
      sanitizer: options.sanitizer,
      resolver: options.resolver,
      linkHandler: options.linkHandler,
      latexTypesetter: options.latexTypesetter,
      markdownParser: options.markdownParser ?? null,
      shouldTypeset: false,
      translator: options.translator
    });
    return host;
  }

  private async _typeset(host: HTMLElement): Promise<void> {
    try {
      await this._options.latexTypesetter?.typeset(host);
    } catch (error) {
      console.warn('jupyter-collab: typesetting the answer failed', error);
    }
  }

  private _replace(render: number, children: HTMLElement[]): void {
    if (render === this._renders) {
      this.node.replaceChildren(...children);
    }
  }

  private _options: IRenderMime.IRendererOptions;
  private _renders = 0;
  private _trans: TranslationBundle;
}

/**
 * The server's placement of each highlight on the answer; none when the
 * server cannot be asked (the answer then shows without marks).
 */
async function placementsOf(
  highlights: IAnnotatedHighlight[],
  answer: string
): Promise<IAnchorPlacement[]> {
  const items = highlights.map(({ highlight }) => ({
    id: highlight.id,
    text: answer,
    position: highlight.position,
    quote: highlight.quote
  }));
  try {
    return await anchorService.place(items);
  } catch (error) {
    console.warn('jupyter-collab: placing the highlights failed', error);
    return [];
  }
}

/**
 * Marks for the highlights the server placed on the answer (orphaned ones
 * get none).
 */
export function markSpecs(
  highlights: IAnnotatedHighlight[],
  placements: IAnchorPlacement[],
  answer: string,
  trans: TranslationBundle
): IMarkSpec[] {
  const placed = new Map(
    placements
      .filter(
        p => p.status !== 'orphaned' && p.start !== null && p.end !== null
      )
      .map(p => [p.id, { start: p.start!, end: p.end! }])
  );
  return highlights
    .filter(({ highlight }) => placed.has(highlight.id))
    .map(({ highlight, corrections }) => ({
      id: highlight.id,
      source: answer,
      span: spanFromWire(answer, placed.get(highlight.id)!),
      className: corrections.length
        ? 'jp-collab-mark jp-collab-mod-corrected'
        : 'jp-collab-mark',
      title: corrections.length
        ? corrections.map(c => correctionNote(c, trans)).join('\n')
        : trans.__('Highlighted')
    }));
}

function operationName(
  operation: CorrectionOperation,
  trans: TranslationBundle
): string {
  switch (operation) {
    case 'replace':
      return trans.__('replace');
    case 'delete':
      return trans.__('delete');
    case 'insert':
      return trans.__('insert');
    case 'comment':
      return trans.__('comment');
    default:
      return operation;
  }
}

/**
 * "operation: text" for a correction of a highlight.
 */
function correctionNote(
  correction: ICorrection,
  trans: TranslationBundle
): string {
  return trans.__(
    '%1: %2',
    operationName(correction.operation, trans),
    correction.text || trans.__('(no text)')
  );
}

/**
 * The corrections, listed under the answer.
 */
function notes(
  highlights: IAnnotatedHighlight[],
  trans: TranslationBundle
): HTMLElement {
  const list = document.createElement('ol');
  list.className = 'jp-collab-notes';
  for (const { highlight, corrections } of highlights) {
    for (const correction of corrections) {
      const item = document.createElement('li');
      const quote = document.createElement('q');
      quote.textContent = highlight.quote.exact;
      const what = document.createElement('span');
      what.className = 'jp-collab-note-text';
      what.textContent = ` ${correctionNote(correction, trans)}`;
      item.append(quote, what);
      item.dataset.collabMark = highlight.id;
      list.append(item);
    }
  }
  list.hidden = list.childElementCount === 0;
  return list;
}

function isLive(payload: IStreamingAnswer): boolean {
  return (
    (payload.status === 'waiting' || payload.status === 'streaming') &&
    !!payload.run_id &&
    activeRuns.get(payload.run_id) !== undefined
  );
}

/**
 * The line under a streaming answer: what is happening and a cancel button.
 */
function streamingStatus(
  payload: IStreamingAnswer,
  trans: TranslationBundle
): HTMLElement {
  const status = document.createElement('div');
  status.className = 'jp-collab-status';
  const label = document.createElement('span');
  label.className = 'jp-collab-status-label';
  if (isLive(payload)) {
    const spinner = document.createElement('span');
    spinner.className = 'jp-collab-spinner';
    label.textContent =
      payload.note ??
      (payload.status === 'waiting'
        ? trans.__('Asking…')
        : trans.__('Streaming…'));
    const cancel = document.createElement('button');
    cancel.className = 'jp-collab-cancel jp-mod-styled jp-mod-reject';
    cancel.textContent = trans.__('Cancel');
    cancel.title = trans.__(
      'Stop this answer (the stop button of the notebook does too)'
    );
    cancel.onclick = () => {
      cancel.disabled = true;
      activeRuns.cancel(payload.run_id!);
    };
    status.append(spinner, label, cancel);
    return status;
  }
  if (payload.status === 'cancelled') {
    label.textContent =
      payload.note ?? trans.__('Cancelled: the answer above is incomplete.');
  } else if (payload.status === 'error') {
    label.textContent = trans.__('Failed: the answer above is incomplete.');
  } else {
    // A run of another page: under real-time collaboration, a collaborator's
    // run still writing into the shared notebook (only that page can cancel
    // it); otherwise a notebook saved while the answer was arriving.
    label.textContent = trans.__(
      'Still arriving from the page that ran this cell (a collaborator’s), or saved before it was complete; if no one is running it, run the cell again.'
    );
    status.classList.add('jp-collab-mod-elsewhere');
  }
  status.classList.add('jp-collab-mod-ended');
  status.append(label);
  return status;
}

function invalid(trans: TranslationBundle): HTMLElement {
  const element = document.createElement('div');
  element.className = 'jp-collab-status jp-collab-mod-ended';
  element.textContent = trans.__(
    'This collaborator output is damaged (no answer in it); run the cell again.'
  );
  return element;
}
