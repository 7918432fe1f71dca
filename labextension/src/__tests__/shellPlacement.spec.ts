import { describe, expect, it } from '@jest/globals';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Panel, SplitPanel, Widget } from '@lumino/widgets';

import { addBeside } from '../shellPlacement';

/**
 * A shell with the areas of `accepts`, each a panel; `main` already holds the
 * notebook. `mainTakesMore: false` plays Notebook 7, whose main area ignores a
 * second widget; its bottom area sits under the main one in a vertical split.
 */
class FakeShell {
  readonly split = new SplitPanel({ orientation: 'vertical' });
  readonly main = new Panel();
  readonly down = new Panel();
  readonly right = new Panel();
  readonly added: { area: string; options: unknown }[] = [];
  readonly activated: string[] = [];

  constructor(
    private readonly accepts: string[],
    private readonly mainTakesMore: boolean
  ) {
    const notebook = new Widget();
    notebook.id = 'notebook-1';
    this.main.addWidget(notebook);
    this.split.addWidget(this.main);
    this.split.addWidget(this.down);
  }

  add(widget: Widget, area?: string, options?: unknown): void {
    this.added.push({ area: area ?? 'main', options });
    if (!this.accepts.includes(area ?? 'main')) {
      return;
    }
    if (area === 'main' && !this.mainTakesMore) {
      return;
    }
    (this as unknown as Record<string, Panel>)[area ?? 'main'].addWidget(
      widget
    );
  }

  activateById(id: string): void {
    this.activated.push(id);
  }

  asShell(): JupyterFrontEnd.IShell {
    return this as unknown as JupyterFrontEnd.IShell;
  }
}

function preview(): Widget {
  const widget = new Widget();
  widget.id = 'preview-1';
  return widget;
}

describe('addBeside', () => {
  it('splits beside the notebook in a dock-panel main area (JupyterLab)', () => {
    const shell = new FakeShell(['main', 'down', 'right'], true);
    const widget = preview();
    expect(addBeside(shell.asShell(), widget, 'notebook-1')).toBe('main');
    expect(widget.parent).toBe(shell.main);
    expect(shell.added).toEqual([
      { area: 'main', options: { mode: 'split-right', ref: 'notebook-1' } }
    ]);
    expect(shell.activated).toEqual(['preview-1']);
  });

  it('opens in the bottom panel, half the height, when the main area holds the notebook alone (Notebook 7)', () => {
    const shell = new FakeShell(['main', 'down', 'right'], false);
    const widget = preview();
    expect(addBeside(shell.asShell(), widget, 'notebook-1')).toBe('down');
    expect(widget.parent).toBe(shell.down);
    expect(shell.added.map(a => a.area)).toEqual(['main', 'down']);
    expect(shell.activated).toEqual(['preview-1']);
    expect(shell.split.relativeSizes()).toEqual([0.5, 0.5]);
  });

  it('falls back to the right sidebar', () => {
    const shell = new FakeShell(['main', 'right'], false);
    const widget = preview();
    expect(addBeside(shell.asShell(), widget, 'notebook-1')).toBe('right');
    expect(widget.parent).toBe(shell.right);
  });

  it('says when no area takes the widget', () => {
    const shell = new FakeShell([], false);
    const widget = preview();
    expect(addBeside(shell.asShell(), widget, 'notebook-1')).toBeNull();
    expect(widget.parent).toBeNull();
    expect(shell.activated).toEqual([]);
  });
});
