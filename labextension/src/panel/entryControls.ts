/**
 * What the context panel's entries do when used: toggle, delete, edit (and
 * which entry is being edited), jump to the highlight, expand provenance and
 * probes (kept across renders), check one entry, and edit its probes (with the
 * probe being written kept until it is stored). Every change is a patch the
 * server applies; nothing is decided here.
 */
import { PatchOperation } from '../api/types';
import { Expectation, IAmendment } from '../api/wire';
import { NotebookCheck } from './check';
import { ICheckActions, IEntryCheck, IProbeDraft } from './checkView';
import { IEditing, IEntryActions } from './entryView';

/**
 * What the controls need from the panel.
 */
export interface IEntryHost {
  /** The entry `id` of the shown context, if there is one. */
  amendment(id: string): IAmendment | undefined;
  /** Apply a patch; whether it was written. */
  apply(operations: PatchOperation[]): Promise<boolean>;
  /** The shown notebook's check (none: the panel cannot check). */
  check(): NotebookCheck | null;
  /** Show a cell (and flash a highlight on it). */
  jump(cellId: string, highlightId: string | null): void;
  render(): void;
}

export class EntryControls {
  constructor(private readonly host: IEntryHost) {}

  /**
   * The entry being edited, if any.
   */
  get editing(): IEditing | null {
    return this._editing;
  }

  /**
   * The editor of entry `id`, when it is the one being edited.
   */
  editingOf(id: string): IEditing | null {
    return this._editing?.id === id ? this._editing : null;
  }

  /**
   * Leave the editor without saving (another notebook is shown).
   */
  stopEditing(): void {
    this._editing = null;
  }

  /**
   * What entry `id`'s check view needs, or `null` when there is no check.
   */
  entryCheck(id: string, expectations: Expectation[]): IEntryCheck | null {
    const check = this.host.check();
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
      textOf: other => this.host.amendment(other)?.text ?? null,
      actions: this._checkActions,
      draft
    };
  }

  private _setOpen(key: string, open: boolean): void {
    if (open) {
      this._open.add(key);
    } else {
      this._open.delete(key);
    }
  }

  readonly actions: IEntryActions = {
    toggle: id => void this.host.apply([{ op: 'toggle_amendment', id }]),
    remove: id => void this.host.apply([{ op: 'remove_amendment', id }]),
    save: (id, text, kind) => {
      const entry = this.host.amendment(id);
      this._editing = null;
      if (
        !entry ||
        !text.trim() ||
        (entry.text === text.trim() && entry.kind === kind)
      ) {
        this.host.render();
        return;
      }
      void this.host.apply([
        {
          op: 'update_amendment',
          id,
          text: text.trim(),
          kind: entry.kind === kind ? undefined : kind,
          note: 'edited in the context panel'
        }
      ]);
    },
    jump: (cellId, highlightId) => this.host.jump(cellId, highlightId),
    startEdit: id => {
      const entry = this.host.amendment(id);
      if (entry) {
        this._editing = { id, text: entry.text, kind: entry.kind };
        this.host.render();
      }
    },
    cancelEdit: () => {
      this._editing = null;
      this.host.render();
    },
    isOpen: id => this._open.has(id),
    setOpen: (id, open) => this._setOpen(id, open)
  };

  private readonly _checkActions: ICheckActions = {
    check: id => void this.host.check()?.start(id),
    cancelCheck: () => this.host.check()?.cancel(),
    setExpectation: (id, probe, expectation) =>
      void this.host.apply([{ op: 'set_expectation', id, probe, expectation }]),
    addProbe: (id, prompt, expectation) =>
      void this.host
        .apply([{ op: 'add_probe', id, prompt: prompt.trim(), expectation }])
        .then(written => {
          if (written) {
            this._drafts.delete(id);
            this.host.render();
          }
        }),
    removeProbe: (id, probe) =>
      void this.host.apply([{ op: 'remove_probe', id, probe }]),
    isOpen: key => this._open.has(key),
    setOpen: (key, open) => this._setOpen(key, open)
  };

  private _editing: IEditing | null = null;
  private readonly _open = new Set<string>();
  private readonly _drafts = new Map<string, IProbeDraft>();
}
