/**
 * The loop in the notebook: a selection in an answer → the popover →
 * the preview view (beside the notebook) → finalize.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  InputDialog,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import {
  IAmendmentDraft,
  ICorrectionInput,
  IHighlightInput
} from '../api/wire';
import { ContextRegistry } from '../panel/registry';
import { PreviewModel } from '../preview/model';
import { PreviewView } from '../preview/view';
import { addBeside } from '../shellPlacement';
import { operationLabel } from './correctionsView';
import { finalize } from './finalize';
import {
  IAnswerRef,
  answerOfCell,
  cellOfNode,
  notebookPrompts
} from './notebook';
import { FeedbackPopover } from './popover';
import { FeedbackSession } from './session';
import { ANSWER_CLASS, anchorRect, currentAnswerSelection } from './selection';
import {
  IAnswerSelectors,
  locateSelection,
  occurrences,
  selectorsFor
} from './selectors';

/**
 * What the loop works on: the notebook, the answer and the highlighted span.
 */
export interface IFeedbackTarget {
  panel: NotebookPanel;
  answer: IAnswerRef;
  highlight: IHighlightInput;
  anchor: () => DOMRect | null;
}

function highlightInput(
  answer: IAnswerRef,
  selectors: IAnswerSelectors
): IHighlightInput {
  const result = answer.payload.result;
  return {
    answer: result.answer,
    prompt: result.prompt ?? '',
    position: selectors.position,
    quote: selectors.quote,
    cell_id: answer.cellId,
    response_id: result.response_id ?? null
  };
}

function correctionLabel(
  correction: ICorrectionInput | null,
  trans: TranslationBundle
): string {
  if (!correction) {
    return '';
  }
  return (
    correction.text ||
    (correction.operation ? operationLabel(correction.operation, trans) : '')
  );
}

export class FeedbackController {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly tracker: INotebookTracker,
    private readonly registry: ContextRegistry,
    private readonly trans: TranslationBundle
  ) {}

  /**
   * The notebook panel holding `node`, if the tracker knows it.
   */
  panelOf(node: Node): NotebookPanel | null {
    return this.tracker.find(panel => panel.node.contains(node)) ?? null;
  }

  /**
   * The span selected in an answer, or `null`.
   */
  selectedTarget(): IFeedbackTarget | null {
    const selection = currentAnswerSelection();
    if (!selection) {
      return null;
    }
    const panel = this.panelOf(selection.answer);
    const cell = panel ? cellOfNode(panel, selection.answer) : null;
    const answer = cell ? answerOfCell(cell) : null;
    if (!panel || !answer) {
      return null;
    }
    const selectors = locateSelection(
      answer.payload.result.answer,
      selection.dom
    );
    if (!selectors) {
      return null;
    }
    const range = selection.range;
    return {
      panel,
      answer,
      highlight: highlightInput(answer, selectors),
      anchor: () => anchorRect(range)
    };
  }

  /**
   * Without a selection (keyboard): ask which words of the active cell's
   * answer the feedback is about.
   */
  async typedTarget(): Promise<IFeedbackTarget | null> {
    const trans = this.trans;
    const panel = this.tracker.currentWidget;
    const cell = panel?.content.activeCell;
    const answer = cell ? answerOfCell(cell) : null;
    if (!panel || !cell || !answer) {
      Notification.info(
        trans.__(
          'Select a span of a collaborator answer (or make its cell active) to give feedback.'
        ),
        { autoClose: 4000 }
      );
      return null;
    }
    const reply = await InputDialog.getText({
      title: trans.__('Feedback on which words?'),
      label: trans.__(
        'Type or paste the words of the answer the feedback is about'
      ),
      placeholder: trans.__('e.g. Smith et al. (2019)')
    });
    const words = reply.value?.trim();
    if (!reply.button.accept || !words) {
      return null;
    }
    const raw = answer.payload.result.answer;
    const start = occurrences(raw, words)[0];
    if (start === undefined) {
      Notification.warning(trans.__('“%1” is not in this answer.', words), {
        autoClose: 4000
      });
      return null;
    }
    const element = cell.node.querySelector(`.${ANSWER_CLASS}`);
    return {
      panel,
      answer,
      highlight: highlightInput(
        answer,
        selectorsFor(raw, start, start + words.length)
      ),
      anchor: () => element?.getBoundingClientRect() ?? null
    };
  }

  /**
   * Open the popover on the selection (or, without one, on typed words).
   */
  async open(): Promise<FeedbackPopover | null> {
    const target = this.selectedTarget() ?? (await this.typedTarget());
    if (!target) {
      return null;
    }
    this._popover?.dispose();
    // The popover quotes the span; the page selection (and its affordance) goes.
    window.getSelection()?.removeAllRanges();
    const model = this.registry.modelFor(target.panel);
    if (!model.view) {
      void model.load().catch(() => undefined);
    }
    const session = new FeedbackSession(
      target.highlight,
      target.panel.context.path,
      undefined,
      () => model.view?.context ?? null
    );
    const popover = new FeedbackPopover(
      session,
      {
        preview: () => {
          const draft = session.draft();
          if (draft) {
            popover.dispose();
            this.openPreview(target, session.correction(), draft);
          }
        },
        finalize: () => {
          const draft = session.draft();
          if (draft) {
            void finalize(
              {
                panel: target.panel,
                model,
                amendment: draft,
                highlight: target.highlight,
                correction: session.correction(),
                report: null
              },
              this.trans
            ).then(amendment => {
              if (amendment) {
                popover.dispose();
              }
            });
          }
        }
      },
      target.anchor,
      this.trans
    );
    popover.disposed.connect(() => {
      if (this._popover === popover) {
        this._popover = null;
      }
    });
    this._popover = popover;
    popover.open();
    void session.start();
    return popover;
  }

  /**
   * The preview view, beside the notebook (see shellPlacement.ts for where
   * that is in JupyterLab and in Notebook 7).
   */
  openPreview(
    target: IFeedbackTarget,
    correction: ICorrectionInput | null,
    draft: IAmendmentDraft
  ): MainAreaWidget<PreviewView> | null {
    const { panel, answer, highlight } = target;
    const model = this.registry.modelFor(panel);
    const preview = new PreviewModel(draft, panel.context.path, {
      notebook: notebookPrompts(panel, answer.cellId),
      original: answer.payload.result.prompt || null
    });
    const content = new PreviewView({
      model: preview,
      quote: highlight.quote.exact,
      correction: correctionLabel(correction, this.trans),
      trans: this.trans,
      finalize: async run => {
        const report = run.report();
        if (!report) {
          return false;
        }
        const amendment = await finalize(
          {
            panel,
            model,
            amendment: report.amendment,
            highlight,
            correction,
            report
          },
          this.trans
        );
        if (amendment) {
          widget.dispose();
          this.app.shell.activateById(panel.id);
        }
        return amendment !== null;
      }
    });
    const widget = new MainAreaWidget({ content });
    widget.id = `jupyter-collab-preview-${++this._previews}`;
    widget.title.label = this.trans.__('Preview amendment');
    widget.title.caption = draft.text;
    widget.title.closable = true;
    widget.addClass('jp-collab-preview-panel');
    // Room to read two answers side by side: the left sidebar makes way
    // while the preview is open.
    const shell = this.app.shell as {
      leftCollapsed?: boolean;
      collapseLeft?: () => void;
      expandLeft?: () => void;
    };
    if (shell.leftCollapsed === false && shell.collapseLeft) {
      shell.collapseLeft();
      widget.disposed.connect(() => shell.expandLeft?.());
    }
    if (addBeside(this.app.shell, widget, panel.id) === null) {
      widget.dispose();
      Notification.error(
        this.trans.__('This application has no area to show the preview in.'),
        { autoClose: false }
      );
      return null;
    }
    void preview.start();
    return widget;
  }

  /**
   * Show a cell and flash one of its highlights.
   */
  async jump(
    panel: NotebookPanel,
    cellId: string,
    highlightId: string | null
  ): Promise<void> {
    this.app.shell.activateById(panel.id);
    const index = panel.content.widgets.findIndex(
      cell => cell.model.id === cellId
    );
    if (index < 0) {
      Notification.warning(
        this.trans.__('That cell is no longer in the notebook.'),
        { autoClose: 4000 }
      );
      return;
    }
    const cell = panel.content.widgets[index];
    panel.content.activeCellIndex = index;
    await panel.content.scrollToCell(cell, 'center');
    const marks = highlightId
      ? cell.node.querySelectorAll(
          `[data-collab-mark="${CSS.escape(highlightId)}"]`
        )
      : cell.node.querySelectorAll('.jp-collab-mark');
    const flash = marks.length ? Array.from(marks) : [cell.node];
    for (const node of flash) {
      node.classList.add('jp-collab-flash');
      window.setTimeout(() => node.classList.remove('jp-collab-flash'), 2000);
    }
  }

  private _popover: FeedbackPopover | null = null;
  private _previews = 0;
}
