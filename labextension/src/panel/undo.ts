/**
 * The context panel's undo: every change the researcher makes records the
 * operations that reverse it; undo sends the last one back to the server.
 */
import {
  PatchOperation,
  IAmendment,
  ICollabContext,
  ISettings
} from '../api/types';

/**
 * One undoable change: what the user did, and the operations that undo it.
 */
export interface IUndoStep {
  label: string;
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
   * The label of the change an undo would reverse, or `null`.
   */
  get nextLabel(): string | null {
    return this._steps.length
      ? this._steps[this._steps.length - 1].label
      : null;
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
      const verb = entry.status === 'accepted' ? 'Disable' : 'Enable';
      return {
        label: `${verb} “${short(entry.text)}”`,
        undo: [{ op: 'toggle_amendment', id: operation.id }]
      };
    }
    case 'update_amendment': {
      const [entry] = find(context, operation.id);
      return {
        label: `Edit “${short(entry.text)}”`,
        undo: [{ op: 'undo_amendment', id: operation.id }]
      };
    }
    case 'remove_amendment': {
      const [entry, index] = find(context, operation.id);
      return {
        label: `Delete “${short(entry.text)}”`,
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
        label: 'Change settings',
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
    label: `Finalize “${short(amendment.text)}”`,
    undo: [{ op: 'remove_amendment', id: amendment.id }]
  };
}
