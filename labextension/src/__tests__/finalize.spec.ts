import { describe, expect, it, jest } from '@jest/globals';
import { Notification } from '@jupyterlab/apputils';

import { IFinalizeRequest } from '../api/wire';
import { FINALIZE_ATTEMPTS, finalize } from '../feedback/finalize';
import { IContextClient } from '../panel/client';
import { NotebookContextModel } from '../panel/model';
import { amendment, context, httpError, opened } from './feedbackFixtures';
import { trans } from './translationFixtures';

/**
 * A context another collaborator writes to: `open` returns its revision of
 * the moment, and a finalize is refused (409) unless sent against it.
 */
function sharedContext(revision: number) {
  const state = { revision, finalizes: [] as IFinalizeRequest[] };
  const client: IContextClient = {
    open: async () => opened(context({ revision: state.revision })),
    patch: async () => {
      throw new Error('not used');
    },
    accept: async () => {
      throw new Error('not used');
    }
  } as unknown as IContextClient;
  const send = jest.fn(async (request: IFinalizeRequest) => {
    state.finalizes.push(request);
    if (request.revision !== state.revision) {
      throw httpError(409, `stale revision ${request.revision}`);
    }
    state.revision += 1;
    return {
      amendment: amendment({ text: request.amendment.text }),
      context: opened(context({ revision: state.revision })),
      output: null
    } as any;
  });
  return { state, client, send };
}

function input(model: NotebookContextModel) {
  return {
    panel: {} as any,
    model,
    amendment: { kind: 'process', text: 'Say when unsure.' } as any,
    highlight: null,
    correction: null,
    report: null
  };
}

describe('finalize on a context someone else changed meanwhile', () => {
  it('is sent again on the newer revision, and the user is told', async () => {
    const { state, client, send } = sharedContext(0);
    const onStale = jest.fn(async () => 'reload' as const);
    const model = new NotebookContextModel('nb.ipynb', client, onStale);
    await model.load();
    state.revision = 1; // another collaborator finalized
    const info = jest.spyOn(Notification, 'info');

    const saved = await finalize(input(model), trans, send as any);

    expect(saved?.text).toBe('Say when unsure.');
    expect(state.finalizes.map(r => r.revision)).toEqual([0, 1]);
    expect(state.revision).toBe(2);
    expect(model.revision).toBe(2);
    expect(onStale).not.toHaveBeenCalled();
    expect(info).toHaveBeenCalledWith(
      expect.stringContaining('revision 0 → 1'),
      expect.anything()
    );
  });

  it('asks the user when the context keeps changing', async () => {
    const { state, client, send } = sharedContext(0);
    const onStale = jest.fn(async () => 'cancel' as const);
    const model = new NotebookContextModel('nb.ipynb', client, onStale);
    await model.load();
    // Every reload is already stale again by the time the finalize arrives.
    client.open = async () => {
      const seen = opened(context({ revision: state.revision }));
      state.revision += 1;
      return seen;
    };
    state.revision = 1;

    expect(await finalize(input(model), trans, send as any)).toBeNull();
    expect(send).toHaveBeenCalledTimes(FINALIZE_ATTEMPTS);
    expect(onStale).toHaveBeenCalledTimes(1);
  });
});
