/**
 * The rendermime extension for collaborator answers (the package's
 * `jupyterlab.mimeExtension`): registered in every rendermime registry, so
 * answers render in notebooks, output views and Notebook 7 alike.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { COLLAB_MIME, STREAM_MIME } from '../mimetypes';
import { RenderedCollab } from './answer';

/**
 * Below markdown (60) and HTML (50): the answer bundle's own fallbacks are
 * for other tools. `safe`: answers are sanitized, so they render in untrusted
 * notebooks too.
 */
export const RENDERER_RANK = 10;

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [COLLAB_MIME, STREAM_MIME],
  defaultRank: RENDERER_RANK,
  createRenderer: options => new RenderedCollab(options)
};

const extension: IRenderMime.IExtension = {
  id: 'jupyter-collab:renderer',
  description:
    'Renders collaborator answers with their highlights, usage and provenance.',
  rendererFactory,
  rank: RENDERER_RANK,
  dataType: 'json'
};

export default extension;
