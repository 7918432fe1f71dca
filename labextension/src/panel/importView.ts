/**
 * The context panel's import section: choose a notebook of the project, see
 * which of its entries would arrive (with their provenance) and which would be
 * skipped and why, preview an entry's effect on this notebook's prompts, keep
 * the ones wanted checked, then import them.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { h } from '../feedback/dom';
import { IImportActions, IImportState } from './imports';
import { promotionEffectView } from './promotionEffectView';

/**
 * An arriving entry's model preview on this notebook's prompts: a button until
 * asked for, then its probes as a promotion's preview shows them.
 */
function effectPart(
  state: IImportState,
  sourceId: string,
  actions: IImportActions,
  trans: TranslationBundle
): HTMLElement {
  const effect = state.effects.get(sourceId);
  if (!effect) {
    return h('button', {
      className: 'jp-mod-styled jp-collab-import-effect',
      text: trans.__("Preview on this notebook's prompts"),
      title: trans.__(
        "Answer this notebook's most recent prompts without and with the entry, with a verdict for each"
      ),
      onClick: () => actions.previewEffect(sourceId)
    });
  }
  return promotionEffectView(effect, trans, {
    title: trans.__("Its effect on this notebook's prompts"),
    noProbes: trans.__('This notebook has no collaborator prompts to preview.')
  });
}

function previewView(
  state: IImportState,
  actions: IImportActions,
  trans: TranslationBundle
): HTMLElement | null {
  const preview = state.preview;
  if (!preview) {
    return null;
  }
  const box = h('div', { className: 'jp-collab-import-preview' });
  if (preview.imported.length) {
    box.appendChild(
      h('div', {
        text: trans.__(
          'Would arrive from %1 (nothing is written yet):',
          state.from
        )
      })
    );
  } else {
    box.appendChild(
      h('div', {
        className: 'jp-collab-muted',
        text: trans.__('Nothing to import from %1.', state.from)
      })
    );
  }
  const list = h('ul', { className: 'jp-collab-import-entries' });
  preview.imported.forEach((entry, index) => {
    const sourceId = preview.source_ids[index];
    const box = h('input', { type: 'checkbox' });
    box.checked = !state.unchecked.has(sourceId);
    box.addEventListener('change', () => actions.toggle(sourceId, box.checked));
    list.appendChild(
      h(
        'li',
        { dataset: { sourceId } },
        h(
          'label',
          {},
          box,
          ' ',
          h('span', { className: 'jp-collab-layer-kind', text: entry.kind }),
          ' ',
          h('span', { text: entry.text })
        ),
        sourceId !== entry.id
          ? h('div', {
              className: 'jp-collab-muted',
              text: trans.__(
                'arrives as %1 (%2 is taken here)',
                entry.id,
                sourceId
              )
            })
          : null,
        effectPart(state, sourceId, actions, trans)
      )
    );
  });
  for (const reason of preview.skipped) {
    list.appendChild(
      h('li', {
        className: 'jp-collab-muted jp-collab-import-skipped',
        text: trans.__('Skipped %1', reason)
      })
    );
  }
  box.appendChild(list);
  return box;
}

/**
 * The import section (a button until an import is being prepared).
 */
export function importView(
  state: IImportState | null,
  actions: IImportActions,
  trans: TranslationBundle
): HTMLElement {
  const section = h('section', { className: 'jp-collab-import' });
  if (!state) {
    section.appendChild(
      h('button', {
        className: 'jp-mod-styled jp-collab-import-open',
        text: trans.__('Import from another notebook…'),
        title: trans.__(
          "Preview, then copy another notebook's entries into this one, with their provenance"
        ),
        onClick: () => actions.open()
      })
    );
    return section;
  }
  section.appendChild(
    h('h4', { text: trans.__('Import from another notebook') })
  );
  const candidates = state.candidates;
  if (candidates && !candidates.notebooks.length) {
    section.appendChild(
      h('div', {
        className: 'jp-collab-muted',
        text: trans.__(
          'No other notebook with a context in this project (or this folder, without a project layer).'
        )
      })
    );
  } else if (candidates) {
    const select = h('select', {
      className: 'jp-mod-styled jp-collab-import-from',
      onChange: () => actions.choose(select.value)
    });
    select.appendChild(
      h('option', { value: '', text: trans.__('Choose a notebook') })
    );
    for (const notebook of candidates.notebooks) {
      const option = h('option', { value: notebook, text: notebook });
      option.selected = notebook === state.from;
      select.appendChild(option);
    }
    section.appendChild(select);
  }
  if (state.busy) {
    section.appendChild(h('div', { className: 'jp-collab-muted', text: '…' }));
  }
  if (state.error) {
    section.appendChild(
      h('div', { className: 'jp-collab-error', text: state.error })
    );
  }
  if (state.done !== null) {
    section.appendChild(
      h('div', {
        className: 'jp-collab-import-done',
        text: trans.__('Imported %1.', state.done)
      })
    );
  }
  const preview = previewView(state, actions, trans);
  if (preview) {
    section.appendChild(preview);
  }
  const buttons = h('div', { className: 'jp-collab-import-actions' });
  if (state.preview) {
    const chosen = state.preview.source_ids.filter(
      id => !state.unchecked.has(id)
    ).length;
    buttons.appendChild(
      h('button', {
        className: 'jp-mod-styled jp-mod-accept jp-collab-import-confirm',
        text: trans._n('Import %1 entry', 'Import %1 entries', chosen),
        disabled: !chosen || state.busy,
        onClick: () => actions.confirm()
      })
    );
  }
  buttons.appendChild(
    h('button', {
      className: 'jp-mod-styled',
      text: state.done !== null ? trans.__('Close') : trans.__('Cancel'),
      onClick: () => actions.close()
    })
  );
  section.appendChild(buttons);
  return section;
}
