import { describe, expect, it } from '@jest/globals';

import {
  ILayerMovePreview,
  ILayerMoveReply,
  ILayerMoveRequest,
  ILayersView
} from '../api/wire';
import { ILayersClient, NotebookLayers } from '../panel/layers';
import { layersView } from '../panel/layersView';
import { amendment, context, httpError } from './feedbackFixtures';
import { trans } from './translationFixtures';

function report(revision = 3): ILayersView {
  return {
    path: 'study/nb.ipynb',
    report: {
      notebook: 'study/nb.ipynb',
      missing: [
        'the personal layer it was shared with (personal, revision 2) is missing here'
      ],
      layers: [
        {
          layer: 'personal',
          path: null,
          exists: false,
          revision: 0,
          entries: []
        },
        {
          layer: 'project',
          path: 'study/.collab/context.json',
          exists: true,
          revision: 2,
          entries: [
            {
              id: 'a-shared',
              kind: 'fact',
              text: 'Units are mM.',
              status: 'accepted',
              applies: true,
              why: 'project layer of study: study/nb.ipynb is inside that folder',
              repeats: ['notebook:a-own'],
              origin_notebook: 'week1/a.ipynb'
            }
          ]
        },
        {
          layer: 'notebook',
          path: 'study/nb.collab.json',
          exists: true,
          revision,
          entries: [
            {
              id: 'a-own',
              kind: 'fact',
              text: 'units are mm',
              status: 'accepted',
              applies: true,
              why: "this notebook's own entry",
              repeats: ['project:a-shared'],
              origin_notebook: null
            }
          ]
        }
      ]
    }
  };
}

class FakeLayers implements ILayersClient {
  previews: ILayerMoveRequest[] = [];
  moves: ILayerMoveRequest[] = [];
  fetched = 0;
  previewError: Error | null = null;

  async layers(): Promise<ILayersView> {
    this.fetched += 1;
    return report();
  }
  async preview(body: ILayerMoveRequest): Promise<ILayerMovePreview> {
    this.previews.push(body);
    if (this.previewError) {
      throw this.previewError;
    }
    return {
      entry: amendment(),
      target: 'study/.collab/context.json',
      every_notebook: false,
      notebooks: [{ notebook: 'study/nb.ipynb', effect: 'gains', detail: '' }],
      truncated: false
    };
  }
  async move(body: ILayerMoveRequest): Promise<ILayerMoveReply> {
    this.moves.push(body);
    const view = context();
    return {
      entry: amendment(),
      layers: report(4),
      context: {
        path: 'study/nb.ipynb',
        context: view,
        revision: view.revision,
        token_count: 0,
        embedded: null,
        expectations: {}
      }
    };
  }
}

async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('NotebookLayers', () => {
  it('fetches the layers once per revision of the notebook context', async () => {
    const client = new FakeLayers();
    const layers = new NotebookLayers(
      client,
      () => undefined,
      async () => null
    );
    layers.follow('study/nb.ipynb', 3);
    layers.follow('study/nb.ipynb', 3);
    await settled();
    expect(client.fetched).toBe(1);
    layers.follow('study/nb.ipynb', 4);
    await settled();
    expect(client.fetched).toBe(2);
    expect(layers.view?.report.layers).toHaveLength(3);
  });

  it('previews a promotion and moves only when confirmed, with the revisions seen', async () => {
    const client = new FakeLayers();
    let reloaded = 0;
    const layers = new NotebookLayers(
      client,
      () => undefined,
      async () => (reloaded += 1)
    );
    layers.follow('study/nb.ipynb', 3);
    await settled();
    layers.actions.promote('a-own', 'project');
    await settled();
    expect(client.previews).toHaveLength(1);
    expect(client.moves).toHaveLength(0);
    expect(layers.promotion?.preview?.notebooks[0].effect).toBe('gains');
    layers.actions.confirm();
    await settled();
    expect(client.moves[0]).toEqual({
      path: 'study/nb.ipynb',
      entry_id: 'a-own',
      from_layer: 'notebook',
      to_layer: 'project',
      revisions: { personal: 0, project: 2, notebook: 3 }
    });
    expect(layers.promotion).toBeNull();
    expect(reloaded).toBe(1);
  });

  it('offers to start a project layer when there is none', async () => {
    const client = new FakeLayers();
    client.previewError = httpError(
      404,
      'no project layer above study/nb.ipynb'
    );
    const layers = new NotebookLayers(
      client,
      () => undefined,
      async () => null
    );
    layers.follow('study/nb.ipynb', 3);
    await settled();
    layers.actions.promote('a-own', 'project');
    await settled();
    expect(layers.promotion?.missingLayer).toBe(true);
    expect(layers.promotion?.error).toContain('no project layer');
    client.previewError = null;
    layers.actions.promote('a-own', 'project', '.');
    await settled();
    expect(client.previews[1].project_dir).toBe('study');
  });
});

describe('layersView', () => {
  it('shows each layer in prompt order with why and repeats', () => {
    const node = layersView(
      report(),
      null,
      null,
      {
        promote: () => undefined,
        confirm: () => undefined,
        cancel: () => undefined,
        demote: () => undefined
      },
      trans
    );
    const layers = Array.from(
      node.querySelectorAll<HTMLElement>('.jp-collab-layer')
    );
    expect(layers.map(l => l.dataset.layer)).toEqual([
      'personal',
      'project',
      'notebook'
    ]);
    expect(layers[0].textContent).toContain('none found above this notebook');
    expect(layers[1].textContent).toContain('Applies: project layer of study');
    expect(layers[1].textContent).toContain('Repeats notebook:a-own');
    expect(layers[1].textContent).toContain('From week1/a.ipynb');
    expect(layers[2].querySelectorAll('.jp-collab-promote')).toHaveLength(2);
    expect(
      node.querySelector('.jp-collab-layer-missing')?.textContent
    ).toContain(
      'Shared with layers you lack: the personal layer it was shared with'
    );
    expect(layers[1].querySelectorAll('.jp-collab-demote')).toHaveLength(1);
  });
});
