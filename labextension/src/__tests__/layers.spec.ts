import { describe, expect, it } from '@jest/globals';

import {
  ILayerMovePreview,
  ILayerMoveReply,
  ILayerMoveRequest,
  ILayersView,
  IPreviewProgress,
  IProbe
} from '../api/wire';
import { ILayersClient, IRunningEffect, NotebookLayers } from '../panel/layers';
import {
  FakeEffect,
  probeOutcome,
  progress as effectProgress
} from './effectFixtures';
import { ILayerActions, IPromotion, layersView } from '../panel/layersView';
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

const OTHER_PROBES: IProbe[] = [
  {
    prompt: 'Who proposed mesa-optimization?',
    kind: 'notebook',
    expectation: 'A prompt of study/other.ipynb, which the entry would reach',
    notebook: 'study/other.ipynb'
  },
  {
    prompt: 'What is inner alignment?',
    kind: 'notebook',
    expectation: 'A prompt of study/third.ipynb, which the entry would reach',
    notebook: 'study/third.ipynb'
  }
];

function progress(event: IPreviewProgress['event']): IPreviewProgress {
  return effectProgress(event, OTHER_PROBES.length);
}

class FakeLayers implements ILayersClient {
  effects: { body: ILayerMoveRequest; run: FakeEffect }[] = [];
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
  effect(
    body: ILayerMoveRequest,
    onProgress: (progress: IPreviewProgress) => void
  ): IRunningEffect {
    const run = new FakeEffect(onProgress);
    this.effects.push({ body, run });
    return run;
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

describe("a promotion's model preview", () => {
  async function promoting(): Promise<{
    client: FakeLayers;
    layers: NotebookLayers;
  }> {
    const client = new FakeLayers();
    const layers = new NotebookLayers(
      client,
      () => undefined,
      async () => null
    );
    layers.follow('study/nb.ipynb', 3);
    await settled();
    layers.actions.promote('a-own', 'project');
    await settled();
    return { client, layers };
  }

  it('runs on the same move once the reached notebooks are known', async () => {
    const { client, layers } = await promoting();
    expect(client.effects).toHaveLength(1);
    expect(client.effects[0].body).toEqual(client.previews[0]);
    const run = client.effects[0].run;
    expect(layers.promotion?.effect?.probes).toBeNull();
    run.onProgress({ ...progress('started'), probes: OTHER_PROBES });
    run.onProgress({
      ...progress('probe'),
      done: 1,
      outcome: probeOutcome(OTHER_PROBES[1])
    });
    const effect = layers.promotion?.effect;
    expect(effect?.probes).toEqual(OTHER_PROBES);
    expect(effect?.outcomes.map(o => o.probe.notebook)).toEqual([
      'study/third.ipynb'
    ]);
    expect(effect?.running).toBe(true);
    run.finish({
      amendment: { kind: 'fact', text: 'x', rationale: '' },
      outcomes: [],
      cancelled: false,
      model: 'm',
      duration_s: 1,
      noise_samples: 1
    });
    await settled();
    expect(effect?.running).toBe(false);
    expect(effect?.error).toBeNull();
  });

  it('is cancelled by Cancel, and Promote does not wait for it', async () => {
    const first = await promoting();
    first.layers.actions.cancel();
    expect(first.client.effects[0].run.cancelled).toBe(1);
    expect(first.layers.promotion).toBeNull();

    const second = await promoting();
    second.layers.actions.confirm();
    await settled();
    expect(second.client.moves).toHaveLength(1);
    expect(second.client.effects[0].run.cancelled).toBe(1);
  });

  it('stops when another notebook is shown or the panel closes', async () => {
    const { client, layers } = await promoting();
    layers.follow('study/other.ipynb', 1);
    expect(client.effects[0].run.cancelled).toBe(1);
    layers.actions.promote('a-own', 'project');
    await settled();
    layers.dispose();
    expect(client.effects[1].run.cancelled).toBe(1);
  });
});

describe('layersView', () => {
  const actions: ILayerActions = {
    promote: () => undefined,
    confirm: () => undefined,
    cancel: () => undefined,
    demote: () => undefined
  };

  function promotion(effect: IPromotion['effect']): IPromotion {
    return {
      entryId: 'a-own',
      target: 'project',
      projectDir: null,
      preview: {
        entry: amendment(),
        target: 'study/.collab/context.json',
        every_notebook: false,
        notebooks: [
          { notebook: 'study/other.ipynb', effect: 'gains', detail: '' }
        ],
        truncated: false
      },
      error: null,
      missingLayer: false,
      busy: false,
      effect
    };
  }

  it("shows each reached notebook's probe with its verdict and both answers", () => {
    const node = layersView(
      report(),
      null,
      promotion({
        probes: OTHER_PROBES,
        outcomes: [probeOutcome(OTHER_PROBES[0])],
        running: true,
        cancelled: false,
        error: null
      }),
      actions,
      trans
    );
    const rows = Array.from(
      node.querySelectorAll<HTMLElement>(
        '.jp-collab-promote-effect .jp-collab-probe'
      )
    );
    expect(rows.map(r => r.dataset.notebook)).toEqual([
      'study/other.ipynb',
      'study/third.ipynb'
    ]);
    expect(
      rows[0].querySelector('.jp-collab-probe-notebook')?.textContent
    ).toBe('study/other.ipynb');
    expect(rows[0].querySelector('.jp-collab-probe-prompt')?.textContent).toBe(
      'Who proposed mesa-optimization?'
    );
    const badge = rows[0].querySelector<HTMLElement>('.jp-collab-verdict');
    expect(badge?.dataset.verdict).toBe('intended');
    expect(rows[0].querySelectorAll('.jp-collab-probe-column')).toHaveLength(2);
    expect(rows[0].textContent).toContain('It now cites the paper.');
    expect(rows[1].querySelector('.jp-collab-verdict')).toBeNull();
    expect(rows[1].textContent).toContain('Answering…');
    expect(
      node.querySelector('.jp-collab-promote-effect-progress')?.textContent
    ).toBe('1 of 2 prompts answered…');
    const promote = node.querySelector<HTMLButtonElement>(
      '.jp-collab-promote-confirm'
    );
    expect(promote?.disabled).toBe(false);
  });

  it('says so plainly when no reached notebook has prompts', () => {
    const node = layersView(
      report(),
      null,
      promotion({
        probes: [],
        outcomes: [],
        running: false,
        cancelled: false,
        error: null
      }),
      actions,
      trans
    );
    expect(
      node.querySelector('.jp-collab-promote-no-probes')?.textContent
    ).toBe('No other notebook it reaches has collaborator prompts to preview.');
    expect(node.querySelector('.jp-collab-probe')).toBeNull();
  });

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
