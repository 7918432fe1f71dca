/**
 * Shared fixtures of the feedback, preview, panel and sharing tests.
 */
import { IAmendment, ICollabContext, IOpenedContext } from '../api/wire';

export function amendment(overrides: Partial<IAmendment> = {}): IAmendment {
  return {
    id: 'a-1',
    kind: 'fact',
    text: 'Concrete Problems in AI Safety is by Amodei et al. (2016).',
    status: 'accepted',
    rationale: '',
    provenance: {
      cell_id: 'cell-a',
      response_id: 'msg_1',
      highlight_id: 'h-1',
      correction_id: 'c-1',
      notebook: null,
      quote: 'Smith et al., 2019',
      correction: 'Amodei et al. (2016)',
      prompt: 'Which paper?',
      source: 'loop'
    },
    preview: [],
    created: '2026-11-24T00:00:00Z',
    updated: '2026-11-24T00:00:00Z',
    rev: 1,
    history: [],
    preview_model: null,
    check: null,
    ...overrides
  };
}

export function context(
  overrides: Partial<ICollabContext> = {}
): ICollabContext {
  return {
    schema_version: 1,
    revision: 3,
    settings: {
      mode: 'research',
      model: null,
      temperature: null,
      max_tokens: null,
      token_budget: null,
      include_history: true
    },
    amendments: [amendment()],
    highlights: [
      {
        id: 'h-1',
        cell_id: 'cell-a',
        response_id: 'msg_1',
        answer_hash: null,
        position: { type: 'TextPositionSelector', start: 4, end: 22 },
        quote: {
          type: 'TextQuoteSelector',
          exact: 'Smith et al., 2019',
          prefix: 'See ',
          suffix: '.'
        },
        created: '2026-11-24T00:00:00Z',
        rev: 1
      }
    ],
    corrections: [
      {
        id: 'c-1',
        highlight_id: 'h-1',
        operation: 'replace',
        text: 'Amodei et al. (2016)',
        rationale: '',
        origin: 'user',
        rank: null,
        created: '2026-11-24T00:00:00Z',
        rev: 1
      }
    ],
    removed: [],
    ...overrides
  };
}

export function opened(ctx: ICollabContext = context()): IOpenedContext {
  return {
    path: 'nb.ipynb',
    context: ctx,
    revision: ctx.revision,
    token_count: 42,
    embedded: { ...ctx } as unknown as Record<string, unknown>,
    expectations: {},
    reconcile: 'sidecar_only',
    conflicts: [],
    trusted: true,
    needs_review: false,
    pending: null,
    pending_hash: null,
    embedded_only_ids: [],
    restored: false,
    embedded_error: null,
    embedded_layers: null
  };
}

/**
 * An error shaped like the API's (a ResponseError with a response status).
 */
export function httpError(status: number, message = 'stale'): Error {
  const error = new Error(message) as Error & { response: { status: number } };
  error.response = { status };
  return error;
}
