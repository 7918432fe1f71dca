/**
 * The context panel (right sidebar): the current notebook's constitution,
 * grouped into facts and process rules, with toggle, edit, delete and undo;
 * each entry's provenance; orphaned highlights and conflicts; the context's
 * size and whether the last call read it from the prompt cache; mode and
 * model; live updates when the context file changes elsewhere; each entry's
 * health from the last constitution check, and checks streamed into the panel.
 */
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  AmendmentKind,
  Expectation,
  IAnchorPlacement,
  IAnchorQuery,
  ICollabContext,
  IModelsInfo,
  Mode
} from '../api/wire';
import { PatchOperation } from '../api/types';
import { button, h, replaceChildren } from '../feedback/dom';
import { answerTextOf, lastResult } from '../feedback/notebook';
import { ICheckClient, NotebookCheck } from './check';
import { IEntryCheck, IProbeDraft } from './checkView';
import { errorMessage } from './client';
import { IEditing, IEntryActions, entryView } from './entryView';
import {
  IEntryView,
  anchorQueries,
  groupEntries,
  orphanedHighlights
} from './grouping';
import { NotebookContextModel } from './model';
import { settingsView } from './settingsView';
import { describeChanges } from './undo';

export interface IContextPanelOptions {
  /**
   * Show a cell (and flash a highlight on it).
   */
  jump(panel: NotebookPanel, cellId: string, highlightId: string | null): void;
  /**
   * Open the review of an embedded context awaiting it.
   */
  review(panel: NotebookPanel, model: NotebookContextModel): void;
  /**
   * The model setup (models a notebook may pick).
   */
  models(): Promise<IModelsInfo | null>;
  /**
   * Where the highlights sit on the current answers (the server's anchoring).
   */
  anchors(items: IAnchorQuery[]): Promise<IAnchorPlacement[]>;
  /**
   * Runs constitution checks (none: the panel shows health but cannot check).
   */
  checks?: ICheckClient;
  /**
   * The extension's translation bundle.
   */
  trans: TranslationBundle;
}

export class ContextPanel extends Widget {
  constructor(private readonly options: IContextPanelOptions) {
    super();
    this._trans = options.trans;
    this.id = 'jupyter-collab-context';
    this.addClass('jp-collab-panel');
    this.title.caption = this._trans.__('Notebook context (jupyter-collab)');
    this.title.label = this._trans.__('Context');
    this.node.tabIndex = -1;
    this.node.addEventListener('keydown', event => {
      const target = event.target as HTMLElement;
      const typing =
        target.tagName === 'TEXTAREA' || target.tagName === 'INPUT';
      if (!typing && (event.ctrlKey || event.metaKey) && event.key === 'z') {
        event.preventDefault();
        void this.undo();
      }
    });
    void options.models().then(info => {
      this._models = info;
      this.render();
    });
    this.render();
  }

  /**
   * The notebook shown, or `null`.
   */
  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  /**
   * Show `notebook`'s context (or none).
   */
  showNotebook(
    notebook: NotebookPanel | null,
    model: NotebookContextModel | null
  ): void {
    if (this._model) {
      this._model.changed.disconnect(this.render, this);
    }
    this._check?.changed.disconnect(this.render, this);
    this._notebook = notebook;
    this._model = model;
    this._editing = null;
    this._check = model ? this._checkOf(model) : null;
    this._check?.changed.connect(this.render, this);
    if (model) {
      model.changed.connect(this.render, this);
      if (!model.view) {
        void model.load().catch(() => undefined);
      }
    }
    this.render();
  }

  /**
   * Undo the last change of the shown notebook's context.
   */
  async undo(): Promise<void> {
    if (!this._model) {
      return;
    }
    try {
      await this._model.undoLast();
    } catch (error) {
      Notification.error(
        this._trans.__('Undo failed: %1', errorMessage(error))
      );
    }
  }

  /**
   * Render again when what the panel derives from the notebook changed (a
   * new answer, a cell removed), unless an entry is being edited.
   */
  refresh(): void {
    const notebook = this._notebook;
    const context = this._model?.view?.context;
    if (!notebook || !context || this._editing) {
      return;
    }
    this._anchor(notebook, context);
    if (this._signatureOf(notebook, context) !== this._signature) {
      this.render();
    }
  }

  /**
   * What the panel shows of the notebook: the last answer and the orphans.
   */
  private _signatureOf(
    notebook: NotebookPanel,
    context: ICollabContext
  ): string {
    return JSON.stringify([
      lastResult(notebook)?.response_id ?? null,
      orphanedHighlights(context, this._placements).map(o => o.id)
    ]);
  }

  /**
   * Ask the server where the highlights sit, when the highlights or the
   * answers changed since the last request; render again when its answer
   * changes what the panel shows.
   */
  private _anchor(notebook: NotebookPanel, context: ICollabContext): void {
    const queries = anchorQueries(context, id => answerTextOf(notebook, id));
    const key = JSON.stringify(queries);
    if (key === this._anchorsAsked) {
      return;
    }
    this._anchorsAsked = key;
    this.options
      .anchors(queries)
      .then(placements => {
        if (key !== this._anchorsAsked) {
          return; // a newer request is on its way
        }
        this._placements = placements;
        this.refresh();
      })
      .catch(error => {
        console.warn('jupyter-collab: placing the highlights failed', error);
      });
  }

  render(): void {
    const trans = this._trans;
    const model = this._model;
    const notebook = this._notebook;
    if (!model || !notebook) {
      replaceChildren(
        this.node,
        h('div', {
          className: 'jp-collab-panel-empty',
          text: trans.__('Open a notebook to see its context.')
        })
      );
      return;
    }
    const view = model.view;
    const scroll = this.node.scrollTop;
    const focused = (document.activeElement as HTMLElement | null)?.dataset
      ?.focusKey;
    const undoChanges = model.undo.nextChanges;
    const header = h(
      'div',
      { className: 'jp-collab-panel-header' },
      h('span', {
        className: 'jp-collab-panel-title',
        text: trans.__('Context')
      }),
      h('span', {
        className: 'jp-collab-panel-path',
        text: notebook.context.localPath
      }),
      h('span', { className: 'jp-collab-spacer' }),
      button(trans.__('Undo'), () => void this.undo(), {
        className: 'jp-collab-undo',
        title: undoChanges
          ? trans.__('Undo: %1 (Ctrl+Z)', describeChanges(undoChanges, trans))
          : trans.__('Nothing to undo')
      }),
      button(
        trans.__('Reload'),
        () => void model.load().catch(() => undefined),
        {
          className: 'jp-collab-reload',
          title: trans.__('Read the context from the server again')
        }
      )
    );
    (header.querySelector('.jp-collab-undo') as HTMLButtonElement).disabled =
      !undoChanges;
    const parts: (HTMLElement | null)[] = [header, this._checkBar()];
    if (model.error) {
      parts.push(h('div', { className: 'jp-collab-error', text: model.error }));
    }
    const opened = model.opened;
    if (opened?.needs_review) {
      parts.push(
        h(
          'div',
          { className: 'jp-collab-review-banner' },
          h('span', {
            text: trans.__(
              'This notebook carries a context you have not reviewed; it is not used until you accept it.'
            )
          }),
          button(
            trans.__('Review…'),
            () => this.options.review(notebook, model),
            { accept: true }
          )
        )
      );
    }
    if (!view) {
      parts.push(
        h('div', { className: 'jp-collab-muted', text: trans.__('Loading…') })
      );
      replaceChildren(this.node, ...parts);
      return;
    }
    const grouped = groupEntries(view.context);
    parts.push(this._group('fact', grouped.facts));
    parts.push(this._group('process', grouped.process));
    parts.push(this._issues(notebook, model));
    parts.push(this._footer(notebook, model));
    replaceChildren(this.node, ...parts);
    this.node.scrollTop = scroll;
    this._signature = this._signatureOf(notebook, view.context);
    this._anchor(notebook, view.context);
    if (this._editing) {
      const editor = this.node.querySelector<HTMLTextAreaElement>(
        '.jp-collab-entry-editor textarea'
      );
      editor?.focus();
    } else if (focused) {
      // Check events re-render the panel: keep the field the user is in.
      Array.from(this.node.querySelectorAll<HTMLElement>('[data-focus-key]'))
        .find(node => node.dataset.focusKey === focused)
        ?.focus();
    }
  }

  /**
   * The check of `model`'s notebook (kept while the panel shows another).
   */
  private _checkOf(model: NotebookContextModel): NotebookCheck | null {
    if (!this.options.checks) {
      return null;
    }
    let check = this._checks.get(model);
    if (!check) {
      check = new NotebookCheck(this.options.checks, model);
      this._checks.set(model, check);
    }
    return check;
  }

  /**
   * "Check all", and the progress of a running check (or how the last ended).
   */
  private _checkBar(): HTMLElement | null {
    const check = this._check;
    const view = this._model?.view;
    if (!check || !view) {
      return null;
    }
    const trans = this._trans;
    const all = check.running
      ? button(trans.__('Cancel check'), () => check.cancel(), {
          className: 'jp-collab-check-all',
          title: trans.__('Stop the check: keep what it found so far')
        })
      : button(trans.__('Check all'), () => void check.start(null), {
          className: 'jp-collab-check-all',
          title: trans.__(
            'Answer every enabled entry’s probes again, with and without it, and see which still hold'
          )
        });
    all.disabled =
      !check.running &&
      !view.context.amendments.some(a => a.status === 'accepted');
    const parts: HTMLElement[] = [all];
    if (check.running) {
      const progress = h('progress', {
        className: 'jp-collab-check-progress',
        aria: { label: trans.__('Check progress') }
      });
      progress.max = Math.max(check.total, 1);
      progress.value = check.done;
      parts.push(
        progress,
        h('span', {
          className: 'jp-collab-check-status',
          role: 'status',
          text: check.total
            ? trans.__('%1 of %2 probes answered', check.done, check.total)
            : trans.__('Starting the check…')
        })
      );
    } else if (check.error) {
      parts.push(
        h('span', {
          className: 'jp-collab-check-status jp-mod-error',
          role: 'alert',
          text: trans.__('The check failed: %1', check.error)
        })
      );
    } else if (check.cancelled) {
      parts.push(
        h('span', {
          className: 'jp-collab-check-status',
          role: 'status',
          text: trans.__(
            'Check cancelled: the entries it finished were stored.'
          )
        })
      );
    }
    return h('div', { className: 'jp-collab-check-bar' }, ...parts);
  }

  private _entryCheck(
    id: string,
    expectations: Expectation[]
  ): IEntryCheck | null {
    const check = this._check;
    if (!check) {
      return null;
    }
    let draft = this._drafts.get(id);
    if (!draft) {
      draft = { prompt: '', expectation: 'change' };
      this._drafts.set(id, draft);
    }
    return {
      run: check,
      expectations,
      textOf: other =>
        this._model?.view?.context.amendments.find(a => a.id === other)?.text ??
        null,
      actions: this._checkActions,
      draft
    };
  }

  private _group(kind: AmendmentKind, entries: IEntryView[]): HTMLElement {
    const trans = this._trans;
    const list = h('ul', { className: 'jp-collab-entries' });
    for (const entry of entries) {
      const editing =
        this._editing?.id === entry.amendment.id ? this._editing : null;
      const expectations =
        this._model?.view?.expectations?.[entry.amendment.id] ?? [];
      list.appendChild(
        entryView(
          entry,
          this._actions,
          editing,
          trans,
          this._entryCheck(entry.amendment.id, expectations)
        )
      );
    }
    const facts = kind === 'fact';
    return h(
      'section',
      { className: `jp-collab-group jp-mod-${kind}`, dataset: { kind } },
      h('h3', {
        text: facts
          ? trans.__('Facts (%1)', entries.length)
          : trans.__('Process rules (%1)', entries.length)
      }),
      entries.length
        ? list
        : h('div', {
            className: 'jp-collab-muted',
            text: facts
              ? trans.__(
                  'No facts yet: highlight a span of an answer to add one.'
                )
              : trans.__('No process rules yet.')
          })
    );
  }

  private _issues(
    notebook: NotebookPanel,
    model: NotebookContextModel
  ): HTMLElement | null {
    const context = model.view!.context;
    const orphans = orphanedHighlights(context, this._placements);
    const conflicts = model.opened?.conflicts ?? [];
    const embeddedError = model.opened?.embedded_error;
    if (!orphans.length && !conflicts.length && !embeddedError) {
      return null;
    }
    const trans = this._trans;
    const section = h('section', { className: 'jp-collab-issues' });
    if (orphans.length) {
      section.appendChild(
        h('h3', {
          text: trans.__('Orphaned highlights (%1)', orphans.length)
        })
      );
      const list = h('ul', { className: 'jp-collab-orphans' });
      for (const orphan of orphans) {
        list.appendChild(
          h(
            'li',
            {
              title: trans.__(
                'Its cell or its answer changed: the span is no longer found'
              )
            },
            h('q', { text: orphan.quote.exact })
          )
        );
      }
      section.appendChild(list);
    }
    if (conflicts.length || embeddedError) {
      section.appendChild(h('h3', { text: trans.__('Conflicts') }));
      const list = h('ul', { className: 'jp-collab-conflicts' });
      for (const conflict of conflicts) {
        list.appendChild(h('li', { text: conflict }));
      }
      if (embeddedError) {
        list.appendChild(h('li', { text: embeddedError }));
      }
      section.appendChild(list);
    }
    return section;
  }

  private _footer(
    notebook: NotebookPanel,
    model: NotebookContextModel
  ): HTMLElement {
    const trans = this._trans;
    const view = model.view!;
    const last = lastResult(notebook);
    let cache = trans.__('No call yet.');
    if (last) {
      const read = last.usage?.cache_read_input_tokens ?? 0;
      const written = last.usage?.cache_creation_input_tokens ?? 0;
      cache = read
        ? trans._n(
            'Last call read %1 token from the prompt cache.',
            'Last call read %1 tokens from the prompt cache.',
            read
          )
        : written
          ? trans._n(
              'Last call wrote %1 token to the prompt cache.',
              'Last call wrote %1 tokens to the prompt cache.',
              written
            )
          : trans.__('Last call did not use the prompt cache.');
    }
    return h(
      'div',
      { className: 'jp-collab-panel-footer' },
      h('div', {
        className: 'jp-collab-size',
        text: trans._n(
          '≈ %1 token · revision %2',
          '≈ %1 tokens · revision %2',
          view.token_count,
          view.revision
        )
      }),
      h('div', { className: 'jp-collab-cache', text: cache }),
      settingsView(
        view.context.settings,
        this._models,
        {
          mode: (mode: Mode) =>
            this._apply([{ op: 'set_settings', settings: { mode } }]),
          model: (name: string | null) =>
            this._apply([{ op: 'set_settings', settings: { model: name } }])
        },
        trans
      )
    );
  }

  private async _apply(operations: PatchOperation[]): Promise<boolean> {
    if (!this._model) {
      return false;
    }
    try {
      const result = await this._model.apply(operations);
      if (result === 'stale') {
        this.render(); // show the stored state again (a checkbox may have moved)
      }
      return result === 'written';
    } catch (error) {
      this.render();
      Notification.error(
        this._trans.__('The context was not changed: %1', errorMessage(error))
      );
      return false;
    }
  }

  private _checkActions: IEntryCheck['actions'] = {
    check: id => void this._check?.start(id),
    cancelCheck: () => this._check?.cancel(),
    setExpectation: (id, probe, expectation) =>
      void this._apply([{ op: 'set_expectation', id, probe, expectation }]),
    addProbe: (id, prompt, expectation) =>
      void this._apply([
        { op: 'add_probe', id, prompt: prompt.trim(), expectation }
      ]).then(written => {
        if (written) {
          this._drafts.delete(id);
          this.render();
        }
      }),
    removeProbe: (id, probe) =>
      void this._apply([{ op: 'remove_probe', id, probe }]),
    isOpen: key => this._open.has(key),
    setOpen: (key, open) => {
      if (open) {
        this._open.add(key);
      } else {
        this._open.delete(key);
      }
    }
  };

  private _actions: IEntryActions = {
    toggle: id => void this._apply([{ op: 'toggle_amendment', id }]),
    remove: id => void this._apply([{ op: 'remove_amendment', id }]),
    save: (id, text, kind) => {
      const entry = this._model?.view?.context.amendments.find(
        a => a.id === id
      );
      this._editing = null;
      if (
        !entry ||
        !text.trim() ||
        (entry.text === text.trim() && entry.kind === kind)
      ) {
        this.render();
        return;
      }
      void this._apply([
        {
          op: 'update_amendment',
          id,
          text: text.trim(),
          kind: entry.kind === kind ? undefined : kind,
          note: 'edited in the context panel'
        }
      ]);
    },
    jump: (cellId, highlightId) => {
      if (this._notebook) {
        this.options.jump(this._notebook, cellId, highlightId);
      }
    },
    startEdit: id => {
      const entry = this._model?.view?.context.amendments.find(
        a => a.id === id
      );
      if (entry) {
        this._editing = { id, text: entry.text, kind: entry.kind };
        this.render();
      }
    },
    cancelEdit: () => {
      this._editing = null;
      this.render();
    },
    isOpen: id => this._open.has(id),
    setOpen: (id, open) => {
      if (open) {
        this._open.add(id);
      } else {
        this._open.delete(id);
      }
    }
  };

  private _open = new Set<string>();
  private _signature = '';
  private _placements: IAnchorPlacement[] = [];
  private _anchorsAsked = '';
  private _checks = new WeakMap<NotebookContextModel, NotebookCheck>();
  private _check: NotebookCheck | null = null;
  private _drafts = new Map<string, IProbeDraft>();

  private _notebook: NotebookPanel | null = null;
  private _model: NotebookContextModel | null = null;
  private _editing: IEditing | null = null;
  private _models: IModelsInfo | null = null;
  private _trans: TranslationBundle;
}
