/**
 * Where a view opened beside a notebook goes, in whichever application hosts
 * the extension.
 *
 * JupyterLab's main area is a dock panel: the view splits beside the
 * notebook. Notebook 7's main area holds the notebook alone (its shell
 * ignores a second main widget without a word), so the view goes to its
 * bottom panel, a full-width tab under the notebook, and failing that to the
 * right sidebar. Each area is tried in turn and kept when the shell took the
 * widget, so the choice follows what the running shell does, not its name.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { SplitPanel, Widget } from '@lumino/widgets';

/** A shell area a view beside a notebook can go to. */
export type BesideArea = 'main' | 'down' | 'right';

/** The options of `IShell.add` (the document registry's open options). */
type AddOptions = Parameters<JupyterFrontEnd.IShell['add']>[2];

interface IPlacement {
  area: BesideArea;
  options: (ref: string) => AddOptions;
}

const PLACEMENTS: readonly IPlacement[] = [
  { area: 'main', options: ref => ({ mode: 'split-right', ref }) },
  { area: 'down', options: () => ({}) },
  // After the context panel (rank 650) and the hosts' own side panels.
  { area: 'right', options: () => ({ rank: 1000 }) }
];

/**
 * Add `widget` beside the widget whose id is `ref` and show it. Returns the
 * area that took it, or `null` when the shell has none of them (the widget is
 * then left unattached).
 */
export function addBeside(
  shell: JupyterFrontEnd.IShell,
  widget: Widget,
  ref: string
): BesideArea | null {
  for (const { area, options } of PLACEMENTS) {
    shell.add(widget, area, options(ref));
    if (widget.parent !== null) {
      shell.activateById(widget.id);
      if (area === 'down') {
        makeRoom(widget);
      }
      return area;
    }
  }
  return null;
}

/**
 * Give the split pane holding `widget` as much room as the panes beside it:
 * Notebook 7 opens its bottom panel at the height of its tab bar, too short
 * to read two answers in.
 */
function makeRoom(widget: Widget): void {
  let child: Widget = widget;
  for (let parent = widget.parent; parent; parent = parent.parent) {
    if (parent instanceof SplitPanel) {
      const others = parent.widgets.filter(pane => pane !== child).length;
      parent.setRelativeSizes(
        parent.widgets.map(pane => (pane === child ? others : 1))
      );
      return;
    }
    child = parent;
  }
}
