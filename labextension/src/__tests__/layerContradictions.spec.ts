import { describe, expect, it } from '@jest/globals';

import {
  ILayerContradictionsReply,
  ILayerEntryReport,
  ILayersView
} from '../api/wire';
import {
  IContradictionsClient,
  LayerContradictions
} from '../panel/layerContradictions';
import { layersView } from '../panel/layersView';
import { httpError } from './feedbackFixtures';
import { trans } from './translationFixtures';

function entry(id: string, text: string): ILayerEntryReport {
  return {
    id,
    kind: 'process',
    text,
    status: 'accepted',
    applies: true,
    why: 'applies',
    repeats: [],
    origin_notebook: null
  };
}

function view(notebookRevision = 1): ILayersView {
  return {
    path: 'study/nb.ipynb',
    report: {
      notebook: 'study/nb.ipynb',
      missing: [],
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
            entry('a-french', 'Always answer in French.'),
            entry('a-units', 'Units are mM.')
          ]
        },
        {
          layer: 'notebook',
          path: 'study/nb.collab.json',
          exists: true,
          revision: notebookRevision,
          entries: [entry('a-english', 'Always answer in English.')]
        }
      ]
    }
  };
}

const WHY = 'One asks for French, the other for English.';

class FakeClient implements IContradictionsClient {
  asked: string[] = [];
  error: Error | null = null;
  unanswered = 0;

  async contradictions(path: string): Promise<ILayerContradictionsReply> {
    this.asked.push(path);
    if (this.error) {
      throw this.error;
    }
    return {
      path,
      result: {
        contradictions: [
          {
            nearer: { layer: 'notebook', id: 'a-english' },
            farther: { layer: 'project', id: 'a-french' },
            why: WHY
          }
        ],
        compared: 2,
        asked: 3,
        unanswered: this.unanswered,
        left_out: 0
      }
    };
  }
}

async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

const actions = {
  promote: () => undefined,
  confirm: () => undefined,
  cancel: () => undefined,
  demote: () => undefined
};

function render(state: LayerContradictions): HTMLElement {
  return layersView(view(), null, null, actions, trans, state);
}

describe('LayerContradictions', () => {
  it('asks once per version of the layers', async () => {
    const client = new FakeClient();
    let changes = 0;
    const state = new LayerContradictions(client, () => (changes += 1));
    state.follow(null);
    state.follow(view());
    state.follow(view());
    await settled();
    expect(client.asked).toEqual(['study/nb.ipynb']);
    expect(state.result?.contradictions).toHaveLength(1);
    expect(state.busy).toBe(false);
    expect(changes).toBe(2); // busy, then done
    state.follow(view(2));
    await settled();
    expect(client.asked).toHaveLength(2);
  });

  it('shows on both entries which one they contradict, why and which wins', async () => {
    const state = new LayerContradictions(new FakeClient(), () => undefined);
    state.follow(view());
    await settled();
    const node = render(state);
    const english = node.querySelector<HTMLElement>(
      '.jp-collab-layer[data-layer="notebook"] [data-entry-id="a-english"]'
    )!;
    const french = node.querySelector<HTMLElement>(
      '.jp-collab-layer[data-layer="project"] [data-entry-id="a-french"]'
    )!;
    const units = node.querySelector<HTMLElement>('[data-entry-id="a-units"]')!;
    expect(english.dataset.contradicted).toBe('true');
    expect(french.dataset.contradicted).toBe('true');
    expect(units.dataset.contradicted).toBeUndefined();
    expect(units.querySelector('.jp-collab-layer-contradicts')).toBeNull();
    const onFrench = french.querySelector<HTMLElement>(
      '.jp-collab-layer-contradicts'
    )!;
    expect(onFrench.dataset.contradicts).toBe('notebook:a-english');
    expect(onFrench.textContent).toBe(
      `Contradicts notebook:a-english — ${WHY} (the notebook's entry wins)`
    );
    const onEnglish = english.querySelector<HTMLElement>(
      '.jp-collab-layer-contradicts'
    )!;
    expect(onEnglish.dataset.contradicts).toBe('project:a-french');
    expect(onEnglish.dataset.wins).toBe('true');
    expect(onEnglish.textContent).toBe(
      `Contradicts project:a-french — ${WHY} (this entry wins)`
    );
    expect(
      node.querySelector('.jp-collab-layer-contradictions')?.textContent
    ).toBe('1 contradiction(s) among 2 pair(s) of entries of different layers');
  });

  it('says when the model gave no verdict on some pairs', async () => {
    const client = new FakeClient();
    client.unanswered = 1;
    const state = new LayerContradictions(client, () => undefined);
    state.follow(view());
    await settled();
    expect(
      render(state).querySelector('.jp-collab-layer-contradictions')
        ?.textContent
    ).toBe(
      '1 contradiction(s) among 2 pair(s) of entries of different layers; ' +
        'the model gave no verdict on 1 pair(s)'
    );
  });

  it('shows a failure as a muted note and keeps the layers', async () => {
    const client = new FakeClient();
    client.error = httpError(502, 'the model is overloaded');
    const state = new LayerContradictions(client, () => undefined);
    state.follow(view());
    const busy = render(state);
    expect(
      busy.querySelector<HTMLElement>('.jp-collab-layer-contradictions')
        ?.dataset.state
    ).toBe('busy');
    await settled();
    const node = render(state);
    const note = node.querySelector<HTMLElement>(
      '.jp-collab-layer-contradictions'
    )!;
    expect(note.dataset.state).toBe('failed');
    expect(note.classList.contains('jp-collab-muted')).toBe(true);
    expect(note.textContent).toContain('Contradictions not checked:');
    expect(note.textContent).toContain('the model is overloaded');
    expect(node.querySelector('.jp-collab-error')).toBeNull();
    expect(node.querySelectorAll('.jp-collab-layer-entry')).toHaveLength(3);
    expect(node.querySelector('.jp-collab-layer-contradicts')).toBeNull();
  });

  it('shows nothing about contradictions without a client', () => {
    const node = layersView(view(), null, null, actions, trans);
    expect(node.querySelector('.jp-collab-layer-contradictions')).toBeNull();
  });
});
