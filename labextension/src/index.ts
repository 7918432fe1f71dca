import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';

import { getVersion } from './api';
import { FRONTEND_VERSION, versionMismatch } from './version';

/**
 * Check that the server extension answers and is the same release as this
 * front end; warn the user otherwise.
 */
async function checkServerExtension(): Promise<void> {
  try {
    const server = await getVersion();
    console.log(
      `jupyter-collab ${FRONTEND_VERSION}: server extension ${server.version}, ` +
        `context schema ${server.schema_version}, provider ${server.provider}`
    );
    const mismatch = versionMismatch(server.version);
    if (mismatch !== null) {
      console.warn(mismatch);
      Notification.warning(mismatch, { autoClose: false });
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error('jupyter-collab: cannot reach the server extension.', error);
    Notification.warning(`jupyter-collab: ${reason}`, { autoClose: false });
  }
}

/**
 * The jupyter-collab front-end plugin.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:plugin',
  description:
    'Annotated AI collaboration: collaborator cells, span feedback and a notebook-scoped context.',
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    void app.restored.then(checkServerExtension);
  }
};

export default plugin;
