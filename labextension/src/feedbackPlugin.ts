/* eslint-disable jupyter/prefer-lazy-imports -- the plugins construct the panel, the controller and the watchers as they activate */
/**
 * The feedback loop's plugins: highlight → correct → amend → preview →
 * finalize (`jupyter-collab:feedback`), the context panel
 * (`jupyter-collab:context-panel`) and sharing (`jupyter-collab:sharing`).
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';

import { placeHighlights } from './api/anchors';
import { FeedbackAffordance } from './feedback/affordance';
import { FeedbackController } from './feedback/controller';
import { serverContextClient } from './panel/client';
import { serverContradictionsClient } from './panel/layerContradictions';
import { serverLayersClient } from './panel/layers';
import { serverImportClient } from './panel/imports';
import { serverCheckClient } from './panel/check';
import { ContextPanel } from './panel/panel';
import { ContextRegistry } from './panel/registry';
import { askStale } from './panel/stale';
import { ContextWatcher } from './panel/watch';
import { embedOnSave } from './sharing/embed';
import { reviewEmbedded } from './sharing/review';
import { TRANSLATION_DOMAIN } from './translation';

export namespace CommandIDs {
  export const feedback = 'jupyter-collab:feedback';
  export const openContextPanel = 'jupyter-collab:open-context-panel';
  export const undoContextChange = 'jupyter-collab:undo-context-change';
  export const reloadContext = 'jupyter-collab:reload-context';
  export const reviewContext = 'jupyter-collab:review-context';
}

/**
 * None of these commands takes arguments.
 */
const NO_ARGS = { args: { type: 'object' as const, properties: {} } };

/**
 * The keyboard shortcut of the feedback popover.
 */
export const FEEDBACK_KEYS = ['Accel Alt F'];

/**
 * The shared parts of the loop: one context model per notebook and the
 * controller of the popover and preview.
 */
export interface ICollabLoop {
  registry: ContextRegistry;
  controller: FeedbackController;
}

export const ICollabLoop = new Token<ICollabLoop>(
  'jupyter-collab:ICollabLoop',
  'The feedback loop: per-notebook context models and the feedback controller.'
);

const contextIcon = new LabIcon({
  name: 'jupyter-collab:context',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M4 3h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H9l-5 4v-4H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm3 4v2h10V7H7zm0 4v2h7v-2H7z"/>' +
    '</svg>'
});

const feedback: JupyterFrontEndPlugin<ICollabLoop> = {
  id: 'jupyter-collab:feedback',
  description:
    'Highlight a span of an answer, pick or write a correction, amend the context, preview and finalize.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ITranslator],
  provides: ICollabLoop,
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): ICollabLoop => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const registry = new ContextRegistry(serverContextClient, message =>
      askStale(message, trans)
    );
    const controller = new FeedbackController(app, tracker, registry, trans);
    app.commands.addCommand(CommandIDs.feedback, {
      label: trans.__('Give Feedback on the Selected Answer Text'),
      caption: trans.__(
        'Open the feedback popover on the selection in a collaborator answer'
      ),
      describedBy: NO_ARGS,
      execute: () => controller.open()
    });
    app.commands.addKeyBinding({
      command: CommandIDs.feedback,
      keys: FEEDBACK_KEYS,
      selector: 'body'
    });
    palette?.addItem({
      command: CommandIDs.feedback,
      category: trans.__('AI Collaboration')
    });
    const shortcut = FEEDBACK_KEYS[0].replace('Accel', 'Ctrl');
    const affordance = new FeedbackAffordance(
      () => void app.commands.execute(CommandIDs.feedback),
      answer => controller.panelOf(answer) !== null,
      trans,
      shortcut
    );
    void app.restored.then(() => affordance.update());
    return { registry, controller };
  }
};

const panel: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:context-panel',
  description:
    'The notebook context sidebar: facts and process rules, toggle, edit, delete, undo, provenance.',
  autoStart: true,
  requires: [INotebookTracker, ICollabLoop],
  optional: [ILabShell, ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    loop: ICollabLoop,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { registry, controller } = loop;
    const widget = new ContextPanel({
      jump: (notebook, cellId, highlightId) =>
        void controller.jump(notebook, cellId, highlightId),
      review: (notebook, model) =>
        void reviewEmbedded(model, notebook.context.localPath, trans),
      models: () => registry.client.models().catch(() => null),
      anchors: items => placeHighlights(items),
      checks: serverCheckClient,
      layers: serverLayersClient,
      imports: serverImportClient,
      contradictions: serverContradictionsClient,
      trans
    });
    widget.title.icon = contextIcon;
    app.shell.add(widget, 'right', { rank: 650 });
    restorer?.add(widget, widget.id);

    const follow = () => {
      const notebook = tracker.currentWidget;
      if (notebook === widget.notebook) {
        return;
      }
      widget.showNotebook(
        notebook,
        notebook ? registry.modelFor(notebook) : null
      );
    };
    tracker.currentChanged.connect(follow);
    follow();

    const watcher = new ContextWatcher(
      app.serviceManager.contents,
      () => (widget.notebook ? registry.modelFor(widget.notebook) : null),
      () => widget.isVisible
    );
    watcher.start();
    // What the panel derives from the notebook (last call, orphans) follows too.
    window.setInterval(() => {
      if (widget.isVisible) {
        widget.refresh();
      }
    }, 2000);

    app.commands.addCommand(CommandIDs.openContextPanel, {
      label: trans.__('Show the Notebook Context'),
      describedBy: NO_ARGS,
      execute: () => {
        if (labShell) {
          labShell.activateById(widget.id);
        } else {
          app.shell.activateById(widget.id);
        }
      }
    });
    app.commands.addCommand(CommandIDs.undoContextChange, {
      label: trans.__('Undo the Last Context Change'),
      describedBy: NO_ARGS,
      isEnabled: () => {
        const notebook = widget.notebook;
        return !!notebook && registry.modelFor(notebook).undo.size > 0;
      },
      execute: () => widget.undo()
    });
    app.commands.addCommand(CommandIDs.reloadContext, {
      label: trans.__('Reload the Notebook Context'),
      describedBy: NO_ARGS,
      execute: async () => {
        const notebook = tracker.currentWidget;
        if (notebook) {
          await registry.modelFor(notebook).load();
        }
      }
    });
    const category = trans.__('AI Collaboration');
    for (const command of [
      CommandIDs.openContextPanel,
      CommandIDs.undoContextChange,
      CommandIDs.reloadContext
    ]) {
      palette?.addItem({ command, category });
    }
  }
};

const sharing: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-collab:sharing',
  description:
    'Embed the context in the notebook on save; restore it on open; review an untrusted one first.',
  autoStart: true,
  requires: [INotebookTracker, ICollabLoop],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    loop: ICollabLoop,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { registry } = loop;
    tracker.widgetAdded.connect(async (_, notebook) => {
      await notebook.context.ready;
      const model = registry.modelFor(notebook);
      embedOnSave(notebook, model);
      try {
        const opened = await model.load();
        if (opened.needs_review) {
          await reviewEmbedded(model, notebook.context.localPath, trans);
        } else if (opened.restored) {
          Notification.info(
            trans.__(
              'Restored the AI context of %1 from the notebook.',
              notebook.context.localPath
            ),
            { autoClose: 4000 }
          );
        }
      } catch (error) {
        console.warn('jupyter-collab: cannot load the notebook context', error);
      }
    });
    app.commands.addCommand(CommandIDs.reviewContext, {
      label: trans.__('Review the Notebook’s Embedded Context'),
      describedBy: NO_ARGS,
      isEnabled: () => {
        const notebook = tracker.currentWidget;
        return !!notebook && !!registry.modelFor(notebook).opened?.needs_review;
      },
      execute: async () => {
        const notebook = tracker.currentWidget;
        if (notebook) {
          await reviewEmbedded(
            registry.modelFor(notebook),
            notebook.context.localPath,
            trans
          );
        }
      }
    });
    palette?.addItem({
      command: CommandIDs.reviewContext,
      category: trans.__('AI Collaboration')
    });
  }
};

/**
 * The plugins of the feedback loop, the context panel and sharing.
 */
export const feedbackPlugins: JupyterFrontEndPlugin<any>[] = [
  feedback,
  panel,
  sharing
];
