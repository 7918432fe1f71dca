/**
 * Sharing: when a notebook is saved, its context is embedded in the
 * notebook's metadata (`metadata.jupyter_collab.context`, the `embedded` JSON
 * the server gives), so a shared `.ipynb` carries its constitution, with the
 * shared layers' entries it uses (`metadata.jupyter_collab.layers`, the
 * server's `embedded_layers` when it opened the context).
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { JSONExt } from '@lumino/coreutils';

import { NotebookContextModel } from '../panel/model';

export const METADATA_KEY = 'jupyter_collab';

function hasEntries(embedded: Record<string, unknown>): boolean {
  return ['amendments', 'highlights', 'corrections'].some(
    name => ((embedded[name] as unknown[] | undefined) ?? []).length > 0
  );
}

/**
 * The section with `layers` (the server's `embedded_layers`: the shared
 * layers' entries the notebook's prompts use) as its `layers`, or `section`
 * itself when unchanged or unknown (`null`: the server could not tell).
 */
function withLayers(
  section: Record<string, unknown>,
  layers: unknown[] | null | undefined
): Record<string, unknown> {
  if (!layers) {
    return section;
  }
  const existing = section.layers as unknown[] | undefined;
  if (!layers.length) {
    if (existing === undefined) {
      return section;
    }
    const rest = { ...section };
    delete rest.layers;
    return rest;
  }
  if (
    existing !== undefined &&
    JSONExt.deepEqual(existing as any, layers as any)
  ) {
    return section;
  }
  return { ...section, layers };
}

/**
 * The notebook metadata section with `embedded` as its context (and the
 * shared layers it uses), or `null` when nothing needs to change (already
 * equal; an empty context on a notebook that never carried one; a context
 * awaiting review).
 */
export function embeddedSection(
  current: Record<string, unknown> | undefined,
  embedded: Record<string, unknown> | null | undefined,
  layers?: unknown[] | null
): Record<string, unknown> | null {
  if (!embedded) {
    return null;
  }
  const section = current ?? {};
  const existing = section.context as Record<string, unknown> | undefined;
  if (existing === undefined && !hasEntries(embedded) && !layers?.length) {
    return null;
  }
  const updated = withLayers(
    existing !== undefined &&
      JSONExt.deepEqual(existing as any, embedded as any)
      ? section
      : { ...section, context: embedded },
    layers
  );
  return updated === section ? null : updated;
}

/**
 * Write the context into the notebook's metadata (synchronously) when it differs.
 */
export function embedContext(
  panel: NotebookPanel,
  model: NotebookContextModel
): boolean {
  const notebook = panel.model;
  if (!notebook) {
    return false;
  }
  const section = embeddedSection(
    notebook.getMetadata(METADATA_KEY) as Record<string, unknown> | undefined,
    model.view?.embedded,
    model.opened?.embedded_layers
  );
  if (!section) {
    return false;
  }
  notebook.setMetadata(METADATA_KEY, section);
  return true;
}

/**
 * Embed the context each time the notebook is saved: `saveState` 'started' is
 * emitted just before the notebook's JSON is taken.
 */
export function embedOnSave(
  panel: NotebookPanel,
  model: NotebookContextModel
): void {
  panel.context.saveState.connect((_, state) => {
    if (state === 'started') {
      embedContext(panel, model);
    }
  });
}
