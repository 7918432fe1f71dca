import {
  afterAll,
  beforeEach,
  describe,
  expect,
  it,
  jest
} from '@jest/globals';
import type { ICodeCellModel } from '@jupyterlab/cells';
import { NotebookModel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { IModelsInfo } from '../api';
import { CollabCellToolbar, OptionChange } from '../cellToolbar';
import { setCellOptions } from '../collabCell';
import { frenchTranslator, trans } from './translationFixtures';

beforeEach(() => {
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

const notebook = new NotebookModel();

afterAll(() => {
  notebook.dispose();
});

function codeCell(source: string): ICodeCellModel {
  notebook.sharedModel.insertCell(0, { cell_type: 'code', source });
  return notebook.cells.get(0) as ICodeCellModel;
}

describe('setCellOptions', () => {
  it('rewrites only the %%collab line', () => {
    const model = codeCell('%%collab --no-history\nWhat is {x}?\n\nThanks.');
    setCellOptions(model, { mode: 'learning', model: 'claude-y' });
    expect(model.sharedModel.getSource()).toBe(
      '%%collab --mode learning --model claude-y --no-history\nWhat is {x}?\n\nThanks.'
    );
    setCellOptions(model, { model: null });
    expect(model.sharedModel.getSource()).toBe(
      '%%collab --mode learning --no-history\nWhat is {x}?\n\nThanks.'
    );
  });
});

describe('CollabCellToolbar', () => {
  const info: IModelsInfo = {
    provider: 'anthropic',
    model: 'claude-x',
    ops_model: null,
    allowed_models: ['claude-x', 'claude-y'],
    default_mode: 'research',
    key_configured: true,
    preview_concurrency: 4,
    token_budget: 1000
  };

  it("shows the cell's options and the server's models, and reports changes", async () => {
    const changes: OptionChange[] = [];
    const toolbar = new CollabCellToolbar({
      models: Promise.resolve(info),
      onChange: change => changes.push(change),
      trans
    });
    Widget.attach(toolbar, document.body);
    await Promise.resolve();
    toolbar.setSource('%%collab --mode learning -m claude-z\nhi');
    toolbar.update();
    await new Promise(resolve => requestAnimationFrame(resolve));

    const [mode, model] = Array.from(
      toolbar.node.querySelectorAll('select')
    ) as HTMLSelectElement[];
    expect(mode.value).toBe('learning');
    expect(Array.from(mode.options).map(o => o.text)[0]).toBe(
      'Mode: default (research)'
    );
    expect(model.value).toBe('claude-z');
    expect(Array.from(model.options).map(o => o.value)).toEqual([
      '',
      'claude-x',
      'claude-y',
      'claude-z'
    ]);
    expect(model.options[0].text).toBe('Model: default (claude-x)');
    expect(toolbar.node.textContent).toContain('Collaborator');

    mode.value = '';
    mode.onchange!(new Event('change'));
    model.value = 'claude-y';
    model.onchange!(new Event('change'));
    expect(changes).toEqual([{ mode: null }, { model: 'claude-y' }]);
    Widget.detach(toolbar);
  });

  it('shows its labels in the language of the bundle it is given', async () => {
    const french = frenchTranslator({
      Collaborator: 'Collaborateur',
      'Mode: default (%1)': 'Mode : par défaut (%1)',
      Learning: 'Apprentissage'
    });
    const toolbar = new CollabCellToolbar({
      models: Promise.resolve(info),
      onChange: () => undefined,
      trans: french.load('jupyter_collab')
    });
    Widget.attach(toolbar, document.body);
    await Promise.resolve();
    toolbar.update();
    await new Promise(resolve => requestAnimationFrame(resolve));

    const mode = toolbar.node.querySelector('select')!;
    expect(Array.from(mode.options).map(o => o.text)).toEqual([
      'Mode : par défaut (research)',
      'Research', // not in the catalog: stays as written
      'Apprentissage'
    ]);
    expect(toolbar.node.textContent).toContain('Collaborateur');
    Widget.detach(toolbar);
  });
});
