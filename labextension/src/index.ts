/* eslint-disable jupyter/prefer-lazy-imports -- the plugins need these modules as they activate */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import {
  INotebookCellExecutor,
  INotebookModel,
  INotebookTracker
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';

import { CollabStream, IModelsInfo, getModels, getVersion } from './api';
import { CollabCellDecorator } from './collabCell';
import { addCommands } from './commands';
import { CollabCellExecutor } from './executor';
import { feedbackPlugins } from './feedbackPlugin';
import { activeRuns } from './runs';
import { DEFAULT_SETTINGS, ICollabSettings, readSettings } from './settings';
import { TRANSLATION_DOMAIN } from './translation';
import { FRONTEND_VERSION, versionMismatch } from './version';

const PLUGIN_ID = 'jupyter-collab:plugin';

/**
 * Check that the server extension answers and is the same release as this
 * front end; warn the user otherwise.
 */
async function checkServerExtension(trans: TranslationBundle): Promise<void> {
  try {
    const server = await getVersion();
    console.log(
      `jupyter-collab ${FRONTEND_VERSION}: server extension ${server.version}, ` +
        `context schema ${server.schema_version}, provider ${server.provider}`
    );
    const mismatch = versionMismatch(server.version, trans);
    if (mismatch !== null) {
      console.warn(mismatch);
      Notification.warning(mismatch, { autoClose: false });
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error('jupyter-collab: cannot reach the server extension.', error);
    Notification.warning(trans.__('jupyter-collab: %1', reason), {
      autoClose: false
    });
  }
}

/**
 * Where a notebook model lives on the server. The executor plugin cannot require
 * the notebook tracker (the tracker's notebooks are built with the executor), so
 * the main plugin fills this in once the tracker exists.
 */
const documentPaths = {
  tracker: null as INotebookTracker | null,
  resolve(model: INotebookModel): string | undefined {
    return this.tracker?.find(panel => panel.content.model === model)?.context
      .path;
  }
};

/**
 * The notebook cell executor: collaborator cells through the server door,
 * the others through the kernel (see executor.ts for why, and what it
 * conflicts with). Listed with
 * `@jupyterlab/notebook-extension:cell-executor` under
 * `jupyterlab.disabledExtensions` in package.json.
 */
const executorPlugin: JupyterFrontEndPlugin<INotebookCellExecutor> = {
  id: 'jupyter-collab:cell-executor',
  description:
    'Runs collaborator cells through the jupyter-collab server extension and every other cell through the kernel.',
  autoStart: true,
  optional: [ITranslator],
  provides: INotebookCellExecutor,
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null
  ): INotebookCellExecutor => {
    const stream = new CollabStream({
      serverSettings: app.serviceManager.serverSettings
    });
    return new CollabCellExecutor({
      stream,
      runs: activeRuns,
      trans: (translator ?? nullTranslator).load(TRANSLATION_DOMAIN),
      documentPath: model => documentPaths.resolve(model)
    });
  }
};

/**
 * Collaborator cells: the insert and cancel commands, the cell decoration,
 * the stop button, and the handshake with the server extension.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Annotated AI collaboration: collaborator cells, span feedback and a notebook-scoped context.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    let settings: ICollabSettings = DEFAULT_SETTINGS;
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          settings = readSettings(loaded);
          loaded.changed.connect(() => (settings = readSettings(loaded)));
        })
        .catch(error =>
          console.error('jupyter-collab: cannot load the settings', error)
        );
    }
    documentPaths.tracker = tracker;
    addCommands(app, tracker, activeRuns, () => settings, palette, trans);

    const models: Promise<IModelsInfo | null> = getModels(
      app.serviceManager.serverSettings
    ).catch(error => {
      console.warn('jupyter-collab: cannot read the model setup', error);
      return null;
    });
    new CollabCellDecorator(tracker, models, trans);

    void app.restored.then(() => checkServerExtension(trans));
  }
};

export default [executorPlugin, plugin, ...feedbackPlugins];
