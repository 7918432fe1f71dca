/**
 * The state of one preview: the amendment under test (editable), its probes,
 * their outcomes as they stream in, progress and cancellation.
 *
 * Re-running after an edit sends the same probes again: the server keeps
 * baseline answers cached, so only the amended side is computed, and the
 * previous baselines stay on screen meanwhile. A probe the researcher adds is
 * run on its own and merged into the report.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IPreviewOptions, generateProbes, runPreview } from '../api/loop';
import {
  IAmendmentDraft,
  IPreviewReport,
  IPreviewRequest,
  IProbe,
  IProbeOutcome
} from '../api/wire';

/**
 * The routes a preview calls (replaced in tests).
 */
export interface IPreviewClient {
  probes(
    amendment: IAmendmentDraft,
    notebookPrompts: string[],
    originalPrompt: string | null
  ): Promise<IProbe[]>;
  run(
    request: IPreviewRequest,
    options: IPreviewOptions
  ): Promise<IPreviewReport>;
}

export const serverPreviewClient: IPreviewClient = {
  probes: (amendment, prompts, original) =>
    generateProbes(amendment, prompts, original),
  run: (request, options) => runPreview(request, options)
};

export type PreviewStatus =
  'idle' | 'generating' | 'running' | 'done' | 'cancelled' | 'error';

function sameDraft(a: IAmendmentDraft, b: IAmendmentDraft): boolean {
  return a.kind === b.kind && a.text.trim() === b.text.trim();
}

export class PreviewModel {
  constructor(
    amendment: IAmendmentDraft,
    readonly path: string | null,
    readonly prompts: { notebook: string[]; original: string | null },
    private readonly client: IPreviewClient = serverPreviewClient
  ) {
    this.amendment = { ...amendment };
  }

  /**
   * Emitted on every change of state, probes or outcomes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The amendment as edited; {@link ran} is the one the outcomes are for.
   */
  amendment: IAmendmentDraft;
  ran: IAmendmentDraft | null = null;
  probes: IProbe[] = [];
  outcomes = new Map<string, IProbeOutcome>();
  /**
   * Outcomes of the previous run (their baselines stay visible on re-run).
   */
  previous = new Map<string, IProbeOutcome>();
  status: PreviewStatus = 'idle';
  done = 0;
  total = 0;
  error = '';
  model = '';
  /** Extra baseline samples per changed probe, as the server said it draws. */
  noiseSamples = 1;

  /**
   * Whether the amendment was edited since the outcomes were computed.
   */
  get stale(): boolean {
    return this.ran !== null && !sameDraft(this.ran, this.amendment);
  }

  get running(): boolean {
    return this.status === 'generating' || this.status === 'running';
  }

  /**
   * Generate the probes (the original prompt, the notebook's other prompts,
   * and prompts aimed at over-reach), then run them.
   */
  async start(): Promise<void> {
    this._set('generating');
    try {
      const probes = await this.client.probes(
        this.amendment,
        this.prompts.notebook,
        this.prompts.original
      );
      this.probes = probes.length
        ? probes
        : this.prompts.original
          ? [
              {
                prompt: this.prompts.original,
                kind: 'original',
                expectation: '',
                notebook: null
              }
            ]
          : [];
    } catch (error) {
      this._fail(error);
      return;
    }
    await this.run();
  }

  /**
   * Run every probe with the current amendment.
   */
  async run(): Promise<void> {
    if (!this.probes.length) {
      this._fail(new Error('there are no probes to preview; add one'));
      return;
    }
    for (const [prompt, outcome] of this.outcomes) {
      this.previous.set(prompt, outcome);
    }
    this.outcomes = new Map();
    await this._stream(this.probes, true);
  }

  /**
   * Add a probe of the researcher's own and run it alone.
   */
  async addProbe(prompt: string, expectation = ''): Promise<void> {
    const text = prompt.trim();
    if (!text || this.probes.some(probe => probe.prompt === text)) {
      return;
    }
    const probe: IProbe = {
      prompt: text,
      kind: 'user',
      expectation,
      notebook: null
    };
    this.probes = [...this.probes, probe];
    this._changed.emit();
    if (this.running) {
      return;
    }
    if (this.stale || this.ran === null) {
      await this.run();
    } else {
      await this._stream([probe], false);
    }
  }

  /**
   * Stop the running preview (outcomes so far are kept).
   */
  cancel(): void {
    this._abort?.abort();
  }

  /**
   * The report to finalize with: every outcome, for the amendment that ran;
   * `null` when there is none or the amendment was edited since.
   */
  report(): IPreviewReport | null {
    if (!this.ran || this.stale || this.outcomes.size === 0) {
      return null;
    }
    const outcomes = this.probes
      .map(probe => this.outcomes.get(probe.prompt))
      .filter((o): o is IProbeOutcome => !!o);
    return {
      amendment: this.ran,
      outcomes,
      cancelled: this.status === 'cancelled',
      model: this.model,
      duration_s: 0,
      noise_samples: this.noiseSamples
    };
  }

  private async _stream(probes: IProbe[], all: boolean): Promise<void> {
    const amendment = { ...this.amendment, text: this.amendment.text.trim() };
    const controller = new AbortController();
    this._abort = controller;
    this.error = '';
    this.done = all ? 0 : this.outcomes.size;
    this.total = all ? probes.length : this.probes.length;
    this.ran = amendment;
    this._set('running');
    try {
      const report = await this.client.run(
        { path: this.path, amendment, probes },
        {
          signal: controller.signal,
          onProgress: progress => {
            if (progress.noise_samples) {
              this.noiseSamples = progress.noise_samples;
            }
            if (progress.outcome) {
              this.outcomes.set(
                progress.outcome.probe.prompt,
                progress.outcome
              );
              this.done =
                (all ? 0 : this.total - probes.length) + progress.done;
              this._changed.emit();
            }
          }
        }
      );
      for (const outcome of report.outcomes) {
        this.outcomes.set(outcome.probe.prompt, outcome);
      }
      this.model = report.model || this.model;
      this.noiseSamples = report.noise_samples;
      this._set(report.cancelled ? 'cancelled' : 'done');
    } catch (error) {
      this._fail(error);
    } finally {
      if (this._abort === controller) {
        this._abort = null;
      }
    }
  }

  private _fail(error: unknown): void {
    this.error = error instanceof Error ? error.message : String(error);
    this._set('error');
  }

  private _set(status: PreviewStatus): void {
    this.status = status;
    this._changed.emit();
  }

  private _abort: AbortController | null = null;
  private _changed = new Signal<this, void>(this);
}
