/**
 * The context panel's undo: every change the researcher makes records the
 * operations that reverse it; undo sends the last one back to the server.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IAmendment, ICollabContext, ISettings } from '../api/wire';
import { PatchOperation } from '../api/types';

/**
 * What the user did, as the undo button describes it.
 */
export interface IChange {
  action: 'enable' | 'disable' | 'edit' | 'delete' | 'settings' | 'finalize';
  /** The text of the entry changed (not for settings). */
  text?: string;
}

/**
 * One undoable step: what the user did (several changes at once, in the
 * order made), and the operations that undo it.
 */
export interface IUndoStep {
  changes: IChange[];
  undo: PatchOperation[];
}

/**
 * A bounded stack of undo steps.
 */
export class UndoStack {
  constructor(readonly limit = 50) {}

  get size(): number {
    return this._steps.length;
  }

  /**
   * The changes an undo would reverse, or `null`.
   */
  get nextChanges(): IChange[] | null {
    return this.peek()?.changes ?? null;
  }

  push(step: IUndoStep): void {
    this._steps.push(step);
    if (this._steps.length > this.limit) {
      this._steps.shift();
    }
  }

  pop(): IUndoStep | undefined {
    return this._steps.pop();
  }

  peek(): IUndoStep | undefined {
    return this._steps[this._steps.length - 1];
  }

  clear(): void {
    this._steps = [];
  }

  private _steps: IUndoStep[] = [];
}

function find(context: ICollabContext, id: string): [IAmendment, number] {
  const index = context.amendments.findIndex(entry => entry.id === id);
  if (index < 0) {
    throw new Error(`no amendment with id ${id} in this context`);
  }
  return [context.amendments[index], index];
}

function short(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
}

function describeChange(change: IChange, trans: TranslationBundle): string {
  const text = short(change.text ?? '');
  switch (change.action) {
    case 'enable':
      return trans.__('Enable “%1”', text);
    case 'disable':
      return trans.__('Disable “%1”', text);
    case 'edit':
      return trans.__('Edit “%1”', text);
    case 'delete':
      return trans.__('Delete “%1”', text);
    case 'finalize':
      return trans.__('Finalize “%1”', text);
    case 'settings':
      return trans.__('Change settings');
  }
}

/**
 * What an undo reverses, for the user: "Delete “Be terse.”; Change settings".
 */
export function describeChanges(
  changes: IChange[],
  trans: TranslationBundle
): string {
  return changes.map(change => describeChange(change, trans)).join('; ');
}

/**
 * The change `operation` makes to `context`, and how to undo it; `null` for
 * operations that cannot be undone from the panel.
 */
export function undoStepFor(
  context: ICollabContext,
  operation: PatchOperation
): IUndoStep | null {
  switch (operation.op) {
    case 'toggle_amendment': {
      const [entry] = find(context, operation.id);
      const action = entry.status === 'accepted' ? 'disable' : 'enable';
      return {
        changes: [{ action, text: entry.text }],
        undo: [{ op: 'toggle_amendment', id: operation.id }]
      };
    }
    case 'update_amendment': {
      const [entry] = find(context, operation.id);
      return {
        changes: [{ action: 'edit', text: entry.text }],
        undo: [{ op: 'undo_amendment', id: operation.id }]
      };
    }
    case 'remove_amendment': {
      const [entry, index] = find(context, operation.id);
      return {
        changes: [{ action: 'delete', text: entry.text }],
        undo: [{ op: 'restore_amendment', amendment: entry, index }]
      };
    }
    case 'set_settings': {
      const previous: Partial<ISettings> = {};
      const settings = context.settings as unknown as Record<string, unknown>;
      for (const key of Object.keys(operation.settings)) {
        (previous as Record<string, unknown>)[key] = settings[key] ?? null;
      }
      return {
        changes: [{ action: 'settings' }],
        undo: [{ op: 'set_settings', settings: previous }]
      };
    }
    default:
      return null;
  }
}

/**
 * The undo step of finalizing `amendment`: removing it again.
 */
export function undoFinalize(amendment: IAmendment): IUndoStep {
  return {
    changes: [{ action: 'finalize', text: amendment.text }],
    undo: [{ op: 'remove_amendment', id: amendment.id }]
  };
}
