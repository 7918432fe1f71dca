/**
 * TypeScript mirrors of the server's wire models.
 *
 * One interface per pydantic model, same field names (snake_case, as on the
 * wire); datetimes are ISO 8601 strings. Sources:
 * - jupyter_collab/core/models.py (the context: amendments, highlights, …)
 * - jupyter_collab/core/loop_models.py (completion, suggest, amend, preview)
 * - jupyter_collab/core/providers/base.py (Usage)
 * - jupyter_collab/core/outputs.py (the output bundle's payload)
 * - jupyter_collab/server/wire.py (requests and views only HTTP needs)
 *
 * Interfaces carry the `I` prefix of the JupyterLab code style
 * (`ICompletionResult` mirrors `CompletionResult`).
 */

// -- enums -------------------------------------------------------------------

export type Mode = 'research' | 'learning';
export type AmendmentKind = 'fact' | 'process';
export type AmendmentStatus =
  'proposed' | 'previewed' | 'accepted' | 'disabled' | 'superseded';
export type CorrectionOperation = 'replace' | 'delete' | 'insert' | 'comment';
export type Verdict = 'intended' | 'unintended' | 'unchanged' | 'within_noise';

/** Every verdict, in the order summaries list them. */
export const VERDICTS: readonly Verdict[] = [
  'intended',
  'unintended',
  'unchanged',
  'within_noise'
];
export type ProbeKind =
  'original' | 'notebook' | 'should_change' | 'should_not_change' | 'user';
export type Origin = 'ai' | 'user';

// -- info --------------------------------------------------------------------

/**
 * `GET version`: the handshake the front end makes on start.
 */
export interface IVersionInfo {
  /** The Python package version. */
  version: string;
  /** The version of the context file schema the server reads and writes. */
  schema_version: number;
  /** The name of the model provider the server is configured with. */
  provider: string;
}

/**
 * `GET models`: the model setup (never a key, only whether one is set).
 */
export interface IModelsInfo {
  provider: string;
  /** The configured default model, or null for the provider's own default. */
  model: string | null;
  ops_model: string | null;
  /** Models a cell may pick; empty means any model name is accepted. */
  allowed_models: string[];
  default_mode: Mode;
  key_configured: boolean;
  preview_concurrency: number;
  token_budget: number;
}

// -- the context (core/models.py) ---------------------------------------------

export interface ISettings {
  mode: Mode;
  model: string | null;
  temperature: number | null;
  max_tokens: number | null;
  token_budget: number | null;
  include_history: boolean;
}

/** W3C Web Annotation text position selector (offsets in the answer). */
export interface ITextPositionSelector {
  type?: 'TextPositionSelector';
  start: number;
  end: number;
}

/** W3C Web Annotation text quote selector: the span and its surroundings. */
export interface ITextQuoteSelector {
  type?: 'TextQuoteSelector';
  exact: string;
  prefix: string;
  suffix: string;
}

export interface IHighlight {
  id: string;
  cell_id: string | null;
  response_id: string | null;
  answer_hash: string | null;
  position: ITextPositionSelector;
  quote: ITextQuoteSelector;
  created: string;
  rev: number;
}

export interface ICorrection {
  id: string;
  highlight_id: string | null;
  operation: CorrectionOperation;
  text: string;
  rationale: string;
  origin: Origin;
  rank: number | null;
  created: string;
  rev: number;
}

export interface IProvenance {
  cell_id: string | null;
  response_id: string | null;
  highlight_id: string | null;
  correction_id: string | null;
  quote: string | null;
  correction: string | null;
  prompt: string | null;
  source: 'loop' | 'user' | 'cli' | 'import';
}

export interface IPreviewResult {
  probe: string;
  probe_kind: ProbeKind;
  baseline_hash: string;
  amended_hash: string;
  verdict: Verdict;
  reason: string;
}

export interface IAmendmentRevision {
  at: string;
  kind: AmendmentKind;
  text: string;
  status: AmendmentStatus;
  note: string;
}

export interface IAmendment {
  id: string;
  kind: AmendmentKind;
  text: string;
  status: AmendmentStatus;
  rationale: string;
  provenance: IProvenance;
  preview: IPreviewResult[];
  created: string;
  updated: string;
  rev: number;
  history: IAmendmentRevision[];
}

/** A notebook's whole context: the format of `X.collab.json`. */
export interface ICollabContext {
  schema_version: 1;
  revision: number;
  settings: ISettings;
  amendments: IAmendment[];
  highlights: IHighlight[];
  corrections: ICorrection[];
}

// -- context views and writes (server/wire.py) ---------------------------------

/** A notebook's context as the server sees it (GET, PUT, PATCH, accept). */
export interface IContextView {
  path: string;
  context: ICollabContext;
  revision: number;
  token_count: number;
  /**
   * The JSON to store in `metadata.jupyter_collab.context` when the notebook
   * is saved; null while an embedded context awaits review.
   */
  embedded: Record<string, unknown> | null;
}

/** GET context: the sidecar reconciled with the notebook's embedded copy. */
export interface IOpenedContext extends IContextView {
  reconcile: 'none' | 'identical' | 'sidecar_only' | 'embedded_only' | 'merged';
  conflicts: string[];
  trusted: boolean;
  needs_review: boolean;
  pending: ICollabContext | null;
  pending_hash: string | null;
  embedded_only_ids: string[];
  restored: boolean;
  embedded_error: string | null;
}

/** PUT context: replace the whole context, based on `revision`. */
export interface IContextPut {
  context: ICollabContext;
  revision: number;
}

export interface IAddAmendment {
  op: 'add_amendment';
  kind: AmendmentKind;
  text: string;
  rationale?: string;
  status?: AmendmentStatus;
}

export interface IUpdateAmendment {
  op: 'update_amendment';
  id: string;
  text?: string | null;
  kind?: AmendmentKind | null;
  status?: AmendmentStatus | null;
  rationale?: string | null;
  note?: string;
}

export interface IToggleAmendment {
  op: 'toggle_amendment';
  id: string;
}

export interface IRemoveAmendment {
  op: 'remove_amendment';
  id: string;
}

export interface IRestoreAmendment {
  op: 'restore_amendment';
  amendment: IAmendment;
  index?: number | null;
}

export interface IUndoAmendment {
  op: 'undo_amendment';
  id: string;
}

/** Only the fields given change; `null` resets one to the server default. */
export interface ISettingsChange {
  mode?: Mode | null;
  model?: string | null;
  temperature?: number | null;
  max_tokens?: number | null;
  token_budget?: number | null;
  include_history?: boolean | null;
}

export interface ISetSettings {
  op: 'set_settings';
  settings: ISettingsChange;
}

export type PatchOperation =
  | IAddAmendment
  | IUpdateAmendment
  | IToggleAmendment
  | IRemoveAmendment
  | IRestoreAmendment
  | IUndoAmendment
  | ISetSettings;

/** PATCH context: operations applied in order, based on `revision`. */
export interface IContextPatch {
  revision: number;
  operations: PatchOperation[];
}

/** POST context/accept: apply the embedded context that was reviewed. */
export interface IAcceptReview {
  revision: number;
  pending_hash?: string | null;
}

// -- completion (core/loop_models.py, server/wire.py) --------------------------

/** Token usage of one answer, prompt-cache tokens included. */
export interface IUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** One earlier collaborator turn sent as the conversation. */
export interface ITurn {
  prompt: string;
  answer: string;
}

/**
 * Ask: either the whole cell `source` (`%%collab [options]` + prompt) or a
 * `prompt` with explicit options. `variables` are `{name: value}` already read
 * from the kernel.
 */
export interface ICompletionRequest {
  path?: string | null;
  source?: string | null;
  prompt?: string | null;
  variables?: Record<string, string>;
  cell_id?: string | null;
  history?: ITurn[];
  mode?: Mode | null;
  model?: string | null;
  temperature?: number | null;
  max_tokens?: number | null;
  use_context?: boolean;
  use_history?: boolean;
}

/** Everything recorded about one answer (the MIME bundle's payload). */
export interface ICompletionResult {
  answer: string;
  prompt: string;
  response_id: string;
  provider: string;
  model: string;
  mode: Mode;
  usage: IUsage;
  stop_reason: string | null;
  context_revision: number;
  context_hash: string;
  input_hash: string;
  answer_hash: string;
  included_amendments: string[];
  omitted_amendments: string[];
  cell_id: string | null;
  created: string;
  duration_s: number;
}

/** A highlight with its corrections, as shown on an answer. */
export interface IAnnotatedHighlight {
  highlight: IHighlight;
  corrections: ICorrection[];
  amendment_ids: string[];
}

/** The payload of `application/vnd.jupyter.collab+json`. */
export interface ICollabOutput {
  result: ICompletionResult;
  highlights: IAnnotatedHighlight[];
  version: number;
}

/** The provenance stored in the output's `metadata.jupyter_collab`. */
export interface IOutputProvenance {
  input_hash: string;
  answer_hash: string;
  context_revision: number;
  context_hash: string;
  provider: string;
  model: string;
  response_id: string;
}

/**
 * The nbformat `display_data` output both doors write for an answer
 * (core/outputs.py `build_output`).
 */
export interface ICollabDisplayData {
  output_type: 'display_data';
  data: {
    'application/vnd.jupyter.collab+json': ICollabOutput;
    'text/markdown': string;
    'text/html': string;
    [mime: string]: unknown;
  };
  metadata: { jupyter_collab?: IOutputProvenance; [key: string]: unknown };
}

// -- the loop's operations (core/loop_models.py, server/wire.py) ----------------

/** A span of an answer the researcher selected. */
export interface IHighlightInput {
  answer: string;
  prompt?: string;
  position: ITextPositionSelector;
  quote: ITextQuoteSelector;
  cell_id?: string | null;
  response_id?: string | null;
}

export interface ISuggestedCorrection {
  operation: CorrectionOperation;
  text: string;
  why: string;
  rank: number;
}

export interface ICorrectionInput {
  operation?: CorrectionOperation;
  text?: string;
  why?: string;
  origin?: Origin;
  rank?: number | null;
}

export interface IProposedAmendment {
  kind: AmendmentKind;
  text: string;
  rationale: string;
  /** Ids of existing entries this one repeats. */
  duplicates: string[];
  /** Ids of existing entries this one contradicts. */
  contradicts: string[];
}

/** The amendment under preview: not yet part of the context. */
export interface IAmendmentDraft {
  kind: AmendmentKind;
  text: string;
  rationale?: string;
}

export interface IProbe {
  prompt: string;
  kind: ProbeKind;
  expectation?: string;
}

/**
 * How far the amended answer moved (word-change share, 0-1) against how far
 * the baseline moves between two samples of itself.
 */
export interface INoiseMeasure {
  measure: 'word_change_share';
  baseline_samples: number;
  baseline_spread: number;
  amended_change: number;
  margin: number;
  within_noise: boolean;
}

export interface IProbeOutcome {
  probe: IProbe;
  baseline: string;
  amended: string;
  baseline_hash: string;
  amended_hash: string;
  baseline_cached: boolean;
  verdict: Verdict;
  reason: string;
  /** Null when the answers were identical (nothing was measured). */
  noise?: INoiseMeasure | null;
}

export interface IPreviewReport {
  amendment: IAmendmentDraft;
  outcomes: IProbeOutcome[];
  cancelled: boolean;
  model: string;
  duration_s: number;
  noise_samples?: number;
}

/** One progress event of a running preview. */
export interface IPreviewProgress {
  event: 'started' | 'probe' | 'finished' | 'error';
  total: number;
  done: number;
  outcome: IProbeOutcome | null;
  report: IPreviewReport | null;
  message: string | null;
}

export interface ISuggestRequest {
  path?: string | null;
  highlight: IHighlightInput;
  n?: number;
}

export interface IAmendRequest {
  path?: string | null;
  highlight: IHighlightInput;
  correction: ICorrectionInput;
  n?: number;
}

export interface IProbesRequest {
  amendment: IAmendmentDraft;
  notebook_prompts?: string[];
  original_prompt?: string | null;
  n?: number;
}

export interface IPreviewRequest {
  path?: string | null;
  amendment: IAmendmentDraft;
  probes: IProbe[];
}

export interface IFinalizeRequest {
  path: string;
  revision?: number | null;
  amendment: IAmendmentDraft;
  highlight?: IHighlightInput | null;
  correction?: ICorrectionInput | null;
  report?: IPreviewReport | null;
  cell_id?: string | null;
}

// -- the stream protocol (server/streaming.py) -------------------------------

/** Messages the server sends on `jupyter-collab/stream`. */
export type StreamMessage =
  | { type: 'delta'; id: string; text: string }
  | {
      type: 'result';
      id: string;
      result: ICompletionResult;
      output: ICollabDisplayData;
    }
  | ({ type: 'progress'; id: string } & IPreviewProgress)
  | { type: 'cancelled'; id: string }
  | {
      type: 'error';
      id: string | null;
      status: number;
      reason: string;
      message: string;
    };
