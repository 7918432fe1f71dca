/**
 * The context panel's layers: the personal, project and notebook layers in
 * prompt order, each entry with whether it applies and why (as the server's
 * report says), the entries of other layers it repeats or contradicts
 * (`layerContradictions.ts`), and the actions that
 * move an entry between layers. A promotion is previewed first (the server's
 * `layers/preview`: the notebooks the entry would reach, then the model
 * preview on their prompts, promotionEffectView.ts) and written only when
 * confirmed.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import {
  ILayerEntryReport,
  ILayerMovePreview,
  ILayerReport,
  ILayersView,
  Layer
} from '../api/wire';
import { h } from '../feedback/dom';
import { IPromotionEffect, promotionEffectView } from './promotionEffectView';

export type { IPromotionEffect };
import {
  contradictionNotes,
  contradictionStatus,
  LayerContradictions
} from './layerContradictions';

export type SharedLayer = 'project' | 'personal';

/**
 * A promotion being prepared: its preview, or why there is none.
 */
export interface IPromotion {
  entryId: string;
  target: SharedLayer;
  /**
   * A folder (API path) to start a project layer in, when there is none.
   */
  projectDir: string | null;
  preview: ILayerMovePreview | null;
  error: string | null;
  /**
   * The error said there is no project layer: offer to start one.
   */
  missingLayer: boolean;
  busy: boolean;
  /**
   * The model preview on the reached notebooks' prompts, once started.
   */
  effect: IPromotionEffect | null;
}

export interface ILayerActions {
  promote(entryId: string, target: SharedLayer, projectDir?: string): void;
  confirm(): void;
  cancel(): void;
  demote(entryId: string, from: Layer): void;
}

function layerTitle(layer: Layer, trans: TranslationBundle): string {
  switch (layer) {
    case 'personal':
      return trans.__('Personal');
    case 'project':
      return trans.__('Project');
    default:
      return trans.__('This notebook');
  }
}

function promotionView(
  promotion: IPromotion,
  actions: ILayerActions,
  trans: TranslationBundle
): HTMLElement {
  const box = h('div', { className: 'jp-collab-promote-preview' });
  const target = layerTitle(promotion.target, trans);
  box.appendChild(
    h('div', {
      className: 'jp-collab-promote-title',
      text: trans.__('Promote to the %1 layer', target.toLowerCase())
    })
  );
  if (promotion.busy) {
    box.appendChild(h('div', { className: 'jp-collab-muted', text: '…' }));
  }
  if (promotion.error) {
    box.appendChild(
      h('div', { className: 'jp-collab-error', text: promotion.error })
    );
  }
  const preview = promotion.preview;
  if (preview) {
    box.appendChild(
      h('div', {
        className: 'jp-collab-muted',
        text: trans.__('Into %1', preview.target)
      })
    );
    if (preview.every_notebook) {
      box.appendChild(
        h('div', {
          text: trans.__('It will apply to every notebook you open.')
        })
      );
    } else {
      const list = h('ul', { className: 'jp-collab-promote-notebooks' });
      for (const effect of preview.notebooks) {
        const what =
          effect.effect === 'gains'
            ? trans.__('gains it')
            : effect.effect === 'repeats'
              ? trans.__('already says it (%1)', effect.detail)
              : trans.__('context unreadable: %1', effect.detail);
        list.appendChild(
          h(
            'li',
            { dataset: { effect: effect.effect } },
            h('code', { text: effect.notebook }),
            ` — ${what}`
          )
        );
      }
      box.appendChild(
        h('div', {
          text: trans.__(
            'It will apply to %1 notebook(s)%2:',
            preview.notebooks.length,
            preview.truncated ? '+' : ''
          )
        })
      );
      box.appendChild(list);
    }
  }
  if (promotion.effect) {
    box.appendChild(promotionEffectView(promotion.effect, trans));
  }
  const buttons = h('div', { className: 'jp-collab-promote-actions' });
  if (promotion.missingLayer) {
    buttons.appendChild(
      h('button', {
        className: 'jp-mod-styled',
        text: trans.__("Start a project layer in the notebook's folder"),
        onClick: () => actions.promote(promotion.entryId, 'project', '.')
      })
    );
  }
  buttons.appendChild(
    h('button', {
      className: 'jp-mod-styled jp-mod-accept jp-collab-promote-confirm',
      text: trans.__('Promote'),
      disabled: !preview || promotion.busy,
      onClick: () => actions.confirm()
    })
  );
  buttons.appendChild(
    h('button', {
      className: 'jp-mod-styled',
      text: trans.__('Cancel'),
      onClick: () => actions.cancel()
    })
  );
  box.appendChild(buttons);
  return box;
}

function entryView(
  layer: ILayerReport,
  entry: ILayerEntryReport,
  promotion: IPromotion | null,
  actions: ILayerActions,
  trans: TranslationBundle,
  contradictions: LayerContradictions | null
): HTMLElement {
  const item = h('li', {
    className: 'jp-collab-layer-entry',
    dataset: { entryId: entry.id, applies: String(entry.applies) }
  });
  item.appendChild(
    h(
      'div',
      {},
      h('span', { className: 'jp-collab-layer-kind', text: entry.kind }),
      ' ',
      h('span', { text: entry.text })
    )
  );
  item.appendChild(
    h('div', {
      className: 'jp-collab-muted jp-collab-layer-why',
      text: `${entry.applies ? trans.__('Applies') : trans.__('Does not apply')}: ${entry.why}`
    })
  );
  if (entry.origin_notebook) {
    item.appendChild(
      h('div', {
        className: 'jp-collab-muted',
        text: trans.__('From %1', entry.origin_notebook)
      })
    );
  }
  if (entry.repeats.length) {
    item.appendChild(
      h('div', {
        className: 'jp-collab-layer-repeats',
        text: trans.__('Repeats %1', entry.repeats.join(', '))
      })
    );
  }
  const clashes = contradictionNotes(
    contradictions,
    layer.layer,
    entry.id,
    trans
  );
  if (clashes.length) {
    item.dataset.contradicted = 'true';
    clashes.forEach(note => item.appendChild(note));
  }
  const buttons = h('div', { className: 'jp-collab-layer-actions' });
  if (layer.layer === 'notebook') {
    for (const target of ['project', 'personal'] as SharedLayer[]) {
      buttons.appendChild(
        h('button', {
          className: 'jp-mod-styled jp-collab-promote',
          dataset: { target },
          text: trans.__('To %1', layerTitle(target, trans).toLowerCase()),
          title: trans.__(
            'Preview, then move this entry to the %1 layer',
            target
          ),
          onClick: () => actions.promote(entry.id, target)
        })
      );
    }
  } else {
    buttons.appendChild(
      h('button', {
        className: 'jp-mod-styled jp-collab-demote',
        text: trans.__('Into this notebook'),
        title: trans.__('Move this entry back into the notebook layer'),
        onClick: () => actions.demote(entry.id, layer.layer)
      })
    );
  }
  item.appendChild(buttons);
  if (promotion && promotion.entryId === entry.id) {
    item.appendChild(promotionView(promotion, actions, trans));
  }
  return item;
}

/**
 * The layers section.
 */
export function layersView(
  layers: ILayersView | null,
  error: string | null,
  promotion: IPromotion | null,
  actions: ILayerActions,
  trans: TranslationBundle,
  contradictions: LayerContradictions | null = null
): HTMLElement {
  const section = h('section', { className: 'jp-collab-layers' });
  section.appendChild(h('h3', { text: trans.__('Layers') }));
  section.appendChild(
    h('div', {
      className: 'jp-collab-muted',
      text: trans.__(
        'In prompt order; where entries disagree, the later layer wins.'
      )
    })
  );
  if (error) {
    section.appendChild(
      h('div', { className: 'jp-collab-error', text: error })
    );
  }
  const status = contradictionStatus(contradictions, trans);
  if (status) {
    section.appendChild(status);
  }
  for (const message of layers?.report.missing ?? []) {
    section.appendChild(
      h('div', {
        className: 'jp-collab-layer-missing',
        text: trans.__('Shared with layers you lack: %1', message)
      })
    );
  }
  for (const layer of layers?.report.layers ?? []) {
    const block = h('div', {
      className: 'jp-collab-layer',
      dataset: { layer: layer.layer }
    });
    const where = layer.path
      ? layer.exists
        ? `${layer.path} · r${layer.revision}`
        : trans.__('%1 (no file yet)', layer.path)
      : trans.__('none found above this notebook');
    block.appendChild(
      h(
        'h4',
        {},
        layerTitle(layer.layer, trans),
        ' ',
        h('span', { className: 'jp-collab-muted', text: where })
      )
    );
    const list = h('ul', { className: 'jp-collab-layer-entries' });
    for (const entry of layer.entries) {
      list.appendChild(
        entryView(layer, entry, promotion, actions, trans, contradictions)
      );
    }
    if (!layer.entries.length) {
      list.appendChild(
        h('li', { className: 'jp-collab-muted', text: trans.__('No entries') })
      );
    }
    block.appendChild(list);
    section.appendChild(block);
  }
  return section;
}
