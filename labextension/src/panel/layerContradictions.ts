/**
 * Contradictions between layers in the context panel: once the layers are
 * shown, the server is asked (`POST layers/contradictions`) which entries of
 * one layer contradict an entry of another. The ops model judges and the
 * server keeps its verdicts, so asking again about unchanged layers is cheap;
 * the panel asks once per version of the layers. Each involved entry shows the
 * other one, why and which wins (the nearer layer's, as the server says); a
 * failure is a muted note that leaves the layers view as it is.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { getContradictions } from '../api/layers';
import {
  ILayerContradictions,
  ILayerContradictionsReply,
  ILayerEntryRef,
  ILayersView,
  Layer
} from '../api/wire';
import { h } from '../feedback/dom';
import { errorMessage } from './client';

export interface IContradictionsClient {
  contradictions(path: string): Promise<ILayerContradictionsReply>;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverContradictionsClient: IContradictionsClient = {
  contradictions: path => getContradictions(path)
};

/**
 * What the panel knows about the contradictions of the layers it shows.
 */
export class LayerContradictions {
  constructor(
    private readonly client: IContradictionsClient,
    private readonly changed: () => void
  ) {}

  result: ILayerContradictions | null = null;
  error: string | null = null;
  busy = false;

  /**
   * Ask about `view`'s layers unless this version of them was asked about.
   */
  follow(view: ILayersView | null): void {
    if (!view) {
      return;
    }
    const key = [
      view.path,
      ...view.report.layers.map(layer => `${layer.layer}@${layer.revision}`)
    ].join('\n');
    if (key === this._key) {
      return;
    }
    if (view.path !== this._path) {
      this.result = null;
    }
    this._key = key;
    this._path = view.path;
    void this._ask(view.path, key);
  }

  private async _ask(path: string, key: string): Promise<void> {
    this.busy = true;
    this.error = null;
    this.changed();
    try {
      const reply = await this.client.contradictions(path);
      if (key === this._key) {
        this.result = reply.result;
      }
    } catch (error) {
      if (key === this._key) {
        this.result = null;
        this.error = errorMessage(error);
      }
    }
    if (key === this._key) {
      this.busy = false;
      this.changed();
    }
  }

  private _key = '';
  private _path = '';
}

function ref(entry: ILayerEntryRef): string {
  return `${entry.layer}:${entry.id}`;
}

function winner(layer: Layer, trans: TranslationBundle): string {
  switch (layer) {
    case 'notebook':
      return trans.__("the notebook's entry wins");
    case 'project':
      return trans.__("the project's entry wins");
    default:
      return trans.__('the personal entry wins');
  }
}

/**
 * The notes under one entry: each entry of another layer it contradicts.
 */
export function contradictionNotes(
  state: LayerContradictions | null,
  layer: Layer,
  entryId: string,
  trans: TranslationBundle
): HTMLElement[] {
  const notes: HTMLElement[] = [];
  for (const found of state?.result?.contradictions ?? []) {
    const nearer = found.nearer.layer === layer && found.nearer.id === entryId;
    const farther =
      found.farther.layer === layer && found.farther.id === entryId;
    if (!nearer && !farther) {
      continue;
    }
    const other = nearer ? found.farther : found.nearer;
    const wins = nearer
      ? trans.__('this entry wins')
      : winner(found.nearer.layer, trans);
    const why = found.why ? ` — ${found.why}` : '';
    notes.push(
      h('div', {
        className: 'jp-collab-layer-contradicts',
        dataset: { contradicts: ref(other), wins: String(nearer) },
        text: trans.__('Contradicts %1%2 (%3)', ref(other), why, wins)
      })
    );
  }
  return notes;
}

/**
 * The section's line about contradictions: being checked, how many pairs were
 * compared, or why they could not be.
 */
export function contradictionStatus(
  state: LayerContradictions | null,
  trans: TranslationBundle
): HTMLElement | null {
  if (!state) {
    return null;
  }
  const className = 'jp-collab-muted jp-collab-layer-contradictions';
  if (state.error) {
    return h('div', {
      className,
      dataset: { state: 'failed' },
      text: trans.__('Contradictions not checked: %1', state.error)
    });
  }
  if (state.busy && !state.result) {
    return h('div', {
      className,
      dataset: { state: 'busy' },
      text: trans.__('Checking for contradictions between layers…')
    });
  }
  const result = state.result;
  if (!result || !(result.compared || result.unanswered)) {
    return null;
  }
  const text = result.contradictions.length
    ? trans.__(
        '%1 contradiction(s) among %2 pair(s) of entries of different layers',
        result.contradictions.length,
        result.compared
      )
    : trans.__(
        'No contradictions among %1 pair(s) of entries of different layers',
        result.compared
      );
  const unanswered = result.unanswered
    ? trans.__('; the model gave no verdict on %1 pair(s)', result.unanswered)
    : '';
  const left = result.left_out
    ? trans.__('; %1 less similar pair(s) not compared', result.left_out)
    : '';
  return h('div', {
    className,
    dataset: { state: 'done' },
    text: text + unanswered + left
  });
}
