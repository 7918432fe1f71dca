/**
 * Where the highlights of a notebook's context sit on its current answers, as
 * the server places them (core anchoring): asked again only when the
 * highlights or the answers changed, and an answer to an older question is
 * dropped. The panel shows the highlights no longer found as orphans.
 */
import { NotebookPanel } from '@jupyterlab/notebook';

import {
  IAnchorPlacement,
  IAnchorQuery,
  ICollabContext,
  IHighlight
} from '../api/wire';
import { answerTextOf } from '../feedback/notebook';
import { anchorQueries, orphanedHighlights } from './grouping';

/**
 * Asks the server where the highlights sit (the anchors route).
 */
export type AnchorClient = (
  items: IAnchorQuery[]
) => Promise<IAnchorPlacement[]>;

export class HighlightPlacements {
  constructor(private readonly client: AnchorClient) {}

  /**
   * Ask the server where `context`'s highlights sit on `notebook`'s answers,
   * unless the same question was asked last; `placed` is called once the
   * answer to the latest question arrived.
   */
  update(
    notebook: NotebookPanel,
    context: ICollabContext,
    placed: () => void
  ): void {
    const queries = anchorQueries(context, id => answerTextOf(notebook, id));
    const key = JSON.stringify(queries);
    if (key === this._asked) {
      return;
    }
    this._asked = key;
    this.client(queries)
      .then(placements => {
        if (key !== this._asked) {
          return; // a newer request is on its way
        }
        this._placements = placements;
        placed();
      })
      .catch(error => {
        console.warn('jupyter-collab: placing the highlights failed', error);
      });
  }

  /**
   * The highlights the last placement did not find.
   */
  orphans(context: ICollabContext): IHighlight[] {
    return orphanedHighlights(context, this._placements);
  }

  private _asked = '';
  private _placements: IAnchorPlacement[] = [];
}
