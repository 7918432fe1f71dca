import {
  afterEach,
  beforeEach,
  describe,
  expect,
  it,
  jest
} from '@jest/globals';
import type { ICodeCellModel } from '@jupyterlab/cells';
import { NotebookModel } from '@jupyterlab/notebook';

import {
  CollabAPIError,
  ICompletionHandlers,
  ICompletionRequest,
  IParsedCell,
  StreamCancelledError,
  StreamError
} from '../api';
import { CollabCellExecutor } from '../executor';
import { COLLAB_MIME, STREAM_MIME } from '../mimetypes';
import { ActiveRuns } from '../runs';
import { trans } from './translationFixtures';

/** A stream whose requests the test answers. */
class FakeStream {
  calls: Array<{
    request: ICompletionRequest;
    handlers: ICompletionHandlers;
    resolve: (value: any) => void;
    reject: (error: Error) => void;
    cancelled: boolean;
  }> = [];

  complete(request: ICompletionRequest, handlers: ICompletionHandlers = {}) {
    let resolve!: (value: any) => void;
    let reject!: (error: Error) => void;
    const done = new Promise<any>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const call = { request, handlers, resolve, reject, cancelled: false };
    this.calls.push(call);
    return {
      id: `req-${this.calls.length}`,
      done,
      cancel: () => {
        call.cancelled = true;
        reject(new StreamCancelledError('x'));
      }
    };
  }

  get last() {
    return this.calls[this.calls.length - 1];
  }
}

function answerOutput(prompt: string, answer: string) {
  return {
    output_type: 'display_data',
    data: {
      [COLLAB_MIME]: {
        result: { prompt, answer, usage: {}, model: 'm' },
        highlights: [],
        version: 1
      },
      'text/markdown': answer,
      'text/html': `<p>${answer}</p>`
    },
    metadata: { jupyter_collab: { input_hash: `hash-${answer}` } }
  };
}

/**
 * The server's parse of any cell, referencing `variables`.
 */
function parsedWith(variables: string[]) {
  return jest.fn(async (_source: string): Promise<IParsedCell> => ({
    prompt: 'the prompt',
    variables,
    expressions: Object.fromEntries(
      variables.map(name => [name, `expression of ${name}`])
    ),
    options: {
      mode: null,
      model: null,
      temperature: null,
      max_tokens: null,
      no_history: false,
      no_context: false
    }
  }));
}

function notebookWith(...sources: string[]): NotebookModel {
  const model = new NotebookModel();
  sources.forEach((source, index) =>
    model.sharedModel.insertCell(index, { cell_type: 'code', source })
  );
  return model;
}

function cellAt(notebook: NotebookModel, index: number) {
  return { model: notebook.cells.get(index) as ICodeCellModel } as any;
}

function setup(
  options: {
    readVariables?: (
      kernel: any,
      expressions: Record<string, string>
    ) => Promise<any>;
    parseCell?: (source: string) => Promise<IParsedCell>;
    fallback?: jest.Mock<(options: any) => Promise<boolean>>;
    confirmOverOtherRun?: () => Promise<boolean>;
  } = {}
) {
  const stream = new FakeStream();
  const runs = new ActiveRuns();
  const fallback = options.fallback ?? jest.fn(async (_options: any) => true);
  const executor = new CollabCellExecutor({
    stream: stream as any,
    runs,
    fallback,
    trans,
    throttleMs: 0,
    readVariables: options.readVariables as any,
    parseCell: options.parseCell ?? parsedWith([]),
    confirmOverOtherRun: options.confirmOverOtherRun
  });
  const executed: any[] = [];
  const run = (notebook: NotebookModel, index: number, session: any = {}) =>
    executor.runCell({
      cell: cellAt(notebook, index),
      notebook,
      notebookConfig: {} as any,
      onCellExecuted: args => executed.push(args),
      onCellExecutionScheduled: () => undefined,
      sessionContext: {
        path: 'dir/analysis.ipynb',
        session: { kernel: { id: 'k' } },
        ...session
      } as any
    });
  return { stream, runs, fallback, executor, executed, run };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

function outputs(notebook: NotebookModel, index: number): any[] {
  return (notebook.cells.get(index) as ICodeCellModel).outputs.toJSON();
}

beforeEach(() => {
  // yjs warns about the standalone cells @jupyter/ydoc inserts, and failing
  // runs log their error: both are expected here.
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('CollabCellExecutor routing', () => {
  it('sends ordinary cells to the kernel executor', async () => {
    const { run, fallback, stream } = setup();
    const notebook = notebookWith('print(1)', '%collab status');

    await expect(run(notebook, 0)).resolves.toBe(true);
    await run(notebook, 1);

    expect(fallback).toHaveBeenCalledTimes(2);
    expect(stream.calls).toHaveLength(0);
  });

  it('sends collaborator cells to the server, never to the kernel', async () => {
    const { run, fallback, stream } = setup();
    const notebook = notebookWith('  %%collab --mode learning\nHello?');

    const running = run(notebook, 0);
    await settle();
    stream.last.resolve({
      result: {},
      output: answerOutput('Hello?', 'Hi')
    });

    await expect(running).resolves.toBe(true);
    expect(fallback).not.toHaveBeenCalled();
    expect(stream.last.request).toEqual({
      path: 'dir/analysis.ipynb',
      source: '  %%collab --mode learning\nHello?',
      variables: {},
      cell_id: notebook.cells.get(0).id,
      cells_above: []
    });
  });
});

describe('a collaborator cell run', () => {
  it('streams into the output, then keeps exactly the server output', async () => {
    const { run, stream, executed } = setup();
    const notebook = notebookWith('%%collab\nExplain.');
    const cell = notebook.cells.get(0) as ICodeCellModel;

    const running = run(notebook, 0);
    await settle();
    expect(cell.executionState).toBe('running');
    stream.last.handlers.onDelta!('Part');
    stream.last.handlers.onDelta!('ial');
    await settle();

    const streaming = outputs(notebook, 0);
    expect(streaming).toHaveLength(1);
    expect(streaming[0].data[STREAM_MIME]).toMatchObject({
      text: 'Partial',
      status: 'streaming'
    });

    const output = answerOutput('Explain.', 'Partial answer');
    stream.last.resolve({ result: {}, output });
    await running;

    expect(outputs(notebook, 0)).toEqual([output]);
    expect(cell.executionState).toBe('idle');
    expect(cell.executionCount).toBeNull();
    expect(cell.getMetadata('jupyter_collab')).toEqual({
      role: 'collaborator'
    });
    expect(executed).toEqual([{ cell: expect.anything(), success: true }]);
  });

  it('sends the cells above for the server to take the turns from', async () => {
    const { run, stream } = setup();
    const notebook = notebookWith(
      '%%collab\nfirst',
      'x = 1',
      '%%collab\nsecond',
      '%%collab\nthird'
    );
    const first = answerOutput('first (filled)', 'one');
    (notebook.cells.get(0) as ICodeCellModel).outputs.add(first as any);
    (notebook.cells.get(1) as ICodeCellModel).outputs.add({
      output_type: 'display_data',
      data: { 'image/png': 'iVBORw0KGgo=' },
      metadata: {}
    } as any);
    notebook.sharedModel.insertCell(2, {
      cell_type: 'markdown',
      source: '# Notes'
    });

    void run(notebook, 4);
    await settle();
    expect(stream.last.request.history).toBeUndefined();
    expect(stream.last.request.cells_above).toEqual([
      {
        cell_type: 'code',
        source: '%%collab\nfirst',
        outputs: [{ data: { [COLLAB_MIME]: first.data[COLLAB_MIME] } }]
      },
      // Only the collab entry of an output travels: not the image.
      { cell_type: 'code', source: 'x = 1', outputs: [] },
      { cell_type: 'markdown', source: '# Notes', outputs: [] },
      { cell_type: 'code', source: '%%collab\nsecond', outputs: [] }
    ]);
  });

  it('reads {name} references from the kernel first', async () => {
    const read = jest.fn(
      async (_kernel: any, expressions: Record<string, string>) => ({
        [Object.keys(expressions)[0]]: '42'
      })
    );
    const parseCell = parsedWith(['x']);
    const { run, stream } = setup({ readVariables: read, parseCell });
    const notebook = notebookWith('%%collab\nIs {x} right? {{not}}');

    void run(notebook, 0);
    await settle();

    expect(parseCell).toHaveBeenCalledWith('%%collab\nIs {x} right? {{not}}');
    expect(read).toHaveBeenCalledWith({ id: 'k' }, { x: 'expression of x' });
    expect(stream.last.request.variables).toEqual({ x: '42' });
  });

  it('says clearly when there is no kernel to read names from', async () => {
    const { run, stream } = setup({ parseCell: parsedWith(['df']) });
    const notebook = notebookWith('%%collab\nDescribe {df}.');

    await expect(run(notebook, 0, { session: null })).resolves.toBe(false);

    expect(stream.calls).toHaveLength(0);
    const [error] = outputs(notebook, 0);
    expect(error.output_type).toBe('error');
    expect(error.ename).toBe('NoKernelError');
    expect(error.evalue).toContain('{df}');
    expect(error.evalue).toContain('no running kernel');
  });

  it('shows the reason when the server cannot read the cell', async () => {
    const read = jest.fn(async () => ({}));
    const parseCell = jest.fn(async (): Promise<IParsedCell> => {
      throw new CollabAPIError(
        new Response(null, { status: 400 }),
        "%%collab: argument --mode: invalid choice: 'chatty'",
        'invalid_request'
      );
    });
    const { run, stream } = setup({ readVariables: read, parseCell });
    const notebook = notebookWith('%%collab --mode chatty\nDescribe {df}.');

    await expect(run(notebook, 0)).resolves.toBe(false);

    expect(read).not.toHaveBeenCalled();
    expect(stream.calls).toHaveLength(0);
    const [error] = outputs(notebook, 0);
    expect(error.ename).toBe('InvalidRequestError');
    expect(error.evalue).toContain("invalid choice: 'chatty'");
  });

  it('runs without a kernel when nothing is referenced', async () => {
    const { run, stream } = setup();
    const notebook = notebookWith('%%collab\nHello');

    void run(notebook, 0, { session: null });
    await settle();

    expect(stream.calls).toHaveLength(1);
  });

  it('keeps the partial answer and adds the error when the server fails', async () => {
    const { run, stream, executed } = setup();
    const notebook = notebookWith('%%collab\nExplain.');

    const running = run(notebook, 0);
    await settle();
    stream.last.handlers.onDelta!('Half an ');
    stream.last.reject(new StreamError('Overloaded', 502, 'provider_error'));

    await expect(running).resolves.toBe(false);
    const [partial, error] = outputs(notebook, 0);
    expect(partial.data[STREAM_MIME]).toMatchObject({
      text: 'Half an ',
      status: 'error',
      run_id: null
    });
    expect(error).toMatchObject({
      output_type: 'error',
      ename: 'ProviderError',
      evalue: 'Overloaded'
    });
    expect(executed[0].success).toBe(false);
  });

  it('is cancelled by cancelling the notebook (the stop button)', async () => {
    const { run, stream, runs } = setup();
    const notebook = notebookWith('%%collab\nExplain.');

    const running = run(notebook, 0);
    await settle();
    stream.last.handlers.onDelta!('Some');
    expect(runs.cancelNotebook(notebook)).toBe(1);

    await expect(running).resolves.toBe(false);
    expect(stream.last.cancelled).toBe(true);
    const [partial] = outputs(notebook, 0);
    expect(partial.data[STREAM_MIME]).toMatchObject({
      text: 'Some',
      status: 'cancelled'
    });
    expect(runs.all()).toHaveLength(0);
  });

  it('replaces its own earlier run when run again', async () => {
    const { run, stream } = setup();
    const notebook = notebookWith('%%collab\nExplain.');

    const first = run(notebook, 0);
    await settle();
    const second = run(notebook, 0);
    await settle();

    await expect(first).resolves.toBe(false);
    expect(stream.calls[0].cancelled).toBe(true);
    const output = answerOutput('Explain.', 'done');
    stream.last.resolve({ result: {}, output });
    await expect(second).resolves.toBe(true);
    expect(outputs(notebook, 0)).toEqual([output]);
  });

  it('waits for the collaborator cells above (their answers are its history)', async () => {
    const { run, stream } = setup();
    const notebook = notebookWith('%%collab\nfirst', '%%collab\nsecond');

    void run(notebook, 0);
    void run(notebook, 1);
    await settle();
    expect(stream.calls).toHaveLength(1);
    expect(outputs(notebook, 1)[0].data[STREAM_MIME].note).toContain(
      'Waiting for the collaborator cells above'
    );

    const first = answerOutput('first', 'one');
    (notebook.cells.get(0) as ICodeCellModel).outputs.add(first as any);
    stream.calls[0].resolve({ result: {}, output: first });
    await settle();

    expect(stream.calls).toHaveLength(2);
    expect(stream.last.request.cells_above).toEqual([
      {
        cell_type: 'code',
        source: '%%collab\nfirst',
        outputs: [{ data: { [COLLAB_MIME]: first.data[COLLAB_MIME] } }]
      }
    ]);
  });
});

describe('run ids', () => {
  it('never name another page’s run (the streaming output is shared under real-time collaboration)', () => {
    const notebook = {};
    const cell = {};
    const thisPage = new ActiveRuns();
    const otherPage = new ActiveRuns();
    const mine = thisPage.start(notebook, cell);
    const theirs = otherPage.start(notebook, cell);
    expect(mine.id).not.toBe(theirs.id);
    // The other page's run id, read from the shared output, is not a run here.
    expect(thisPage.get(theirs.id)).toBeUndefined();
    expect(thisPage.cancel(theirs.id)).toBe(false);
    expect(mine.cancelled).toBe(false);
  });
});

describe('a cell another page is answering (real-time collaboration)', () => {
  /** The streaming output another page's run keeps writing into the cell. */
  function answeredElsewhere(notebook: NotebookModel): void {
    (notebook.cells.get(0) as ICodeCellModel).outputs.add({
      output_type: 'display_data',
      data: {
        [STREAM_MIME]: {
          text: 'Their partial answer',
          status: 'streaming',
          run_id: 'run-1-another-page'
        },
        'text/markdown': 'Their partial answer'
      },
      metadata: {}
    });
  }

  it('is not run over that answer unless the user says so', async () => {
    const confirm = jest.fn(async () => false);
    const { run, stream, executed } = setup({ confirmOverOtherRun: confirm });
    const notebook = notebookWith('%%collab\nExplain.');
    answeredElsewhere(notebook);
    const before = outputs(notebook, 0);

    expect(await run(notebook, 0)).toBe(false);
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(stream.calls).toHaveLength(0);
    expect(outputs(notebook, 0)).toEqual(before);
    expect(executed).toEqual([]);
  });

  it('runs from this page when the user chooses to', async () => {
    const confirm = jest.fn(async () => true);
    const { run, stream } = setup({ confirmOverOtherRun: confirm });
    const notebook = notebookWith('%%collab\nExplain.');
    answeredElsewhere(notebook);

    const running = run(notebook, 0);
    await settle();
    expect(stream.calls).toHaveLength(1);
    const output = answerOutput('Explain.', 'Mine');
    stream.last.resolve({ result: {}, output });
    expect(await running).toBe(true);
    expect(outputs(notebook, 0)).toEqual([output]);
  });

  it('is not asked about a finished or cancelled answer', async () => {
    const confirm = jest.fn(async () => false);
    const { run, stream } = setup({ confirmOverOtherRun: confirm });
    const notebook = notebookWith('%%collab\nExplain.');
    (notebook.cells.get(0) as ICodeCellModel).outputs.add({
      output_type: 'display_data',
      data: {
        [STREAM_MIME]: { text: 'Cut', status: 'cancelled', run_id: null }
      },
      metadata: {}
    });
    const running = run(notebook, 0);
    await settle();
    expect(confirm).not.toHaveBeenCalled();
    stream.last.resolve({ result: {}, output: answerOutput('Explain.', 'A') });
    expect(await running).toBe(true);
  });
});
