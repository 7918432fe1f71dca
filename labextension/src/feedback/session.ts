/**
 * One round of feedback on a highlighted span: the suggested corrections,
 * the chosen (or written) correction, and the candidate amendments. No DOM:
 * the popover renders it and calls its methods.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { proposeAmendments, suggestCorrections } from '../api/loop';
import {
  AmendmentKind,
  IAmendmentDraft,
  ICollabContext,
  ICorrectionInput,
  IHighlightInput,
  IProposedAmendment,
  ISuggestedCorrection
} from '../api/wire';
import { IAmendmentWarning, amendmentWarnings } from './warnings';

/**
 * The loop routes a session calls (replaced in tests).
 */
export interface ILoopClient {
  suggest(
    highlight: IHighlightInput,
    path: string | null
  ): Promise<ISuggestedCorrection[]>;
  propose(
    highlight: IHighlightInput,
    correction: ICorrectionInput,
    path: string | null
  ): Promise<IProposedAmendment[]>;
}

export const serverLoopClient: ILoopClient = {
  suggest: (highlight, path) => suggestCorrections(highlight, path),
  propose: (highlight, correction, path) =>
    proposeAmendments(highlight, correction, path)
};

export type LoadState = 'idle' | 'loading' | 'ready' | 'error';

/**
 * A candidate amendment as the researcher sees and edits it.
 */
export interface ICandidate {
  kind: AmendmentKind;
  text: string;
  rationale: string;
  /**
   * What the server proposed (absent for the researcher's own).
   */
  proposal: IProposedAmendment | null;
}

/**
 * Which correction is chosen: a suggestion (by index) or the researcher's own.
 */
export type CorrectionChoice =
  { origin: 'ai'; index: number } | { origin: 'user' };

export class FeedbackSession {
  constructor(
    readonly highlight: IHighlightInput,
    readonly path: string | null,
    private readonly client: ILoopClient = serverLoopClient,
    private readonly context: () => ICollabContext | null = () => null
  ) {}

  /**
   * Emitted when loading states, results or choices change (not on every
   * keystroke of an edit).
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  suggestionsState: LoadState = 'idle';
  suggestions: ISuggestedCorrection[] = [];
  suggestionsError = '';
  choice: CorrectionChoice | null = null;
  userCorrection = '';

  amendmentsState: LoadState = 'idle';
  candidates: ICandidate[] = [];
  amendmentsError = '';
  /**
   * The chosen candidate; `candidates.length` means the researcher's own.
   */
  selected = 0;
  own: ICandidate = { kind: 'fact', text: '', rationale: '', proposal: null };

  /**
   * Ask for suggested corrections.
   */
  async start(): Promise<void> {
    this.suggestionsState = 'loading';
    this._changed.emit();
    try {
      this.suggestions = await this.client.suggest(this.highlight, this.path);
      this.suggestionsState = 'ready';
    } catch (error) {
      this.suggestionsError =
        error instanceof Error ? error.message : String(error);
      this.suggestionsState = 'error';
    }
    this._changed.emit();
  }

  /**
   * The chosen correction as the routes take it, or `null`.
   */
  correction(): ICorrectionInput | null {
    if (!this.choice) {
      return null;
    }
    if (this.choice.origin === 'ai') {
      const suggestion = this.suggestions[this.choice.index];
      if (!suggestion) {
        return null;
      }
      return {
        operation: suggestion.operation,
        text: suggestion.text,
        why: suggestion.why,
        origin: 'ai',
        rank: suggestion.rank
      };
    }
    const text = this.userCorrection.trim();
    return text
      ? { operation: 'replace', text, why: '', origin: 'user', rank: null }
      : null;
  }

  /**
   * Pick a suggestion and ask for amendments from it.
   */
  chooseSuggestion(index: number): Promise<void> {
    this.choice = { origin: 'ai', index };
    return this.propose();
  }

  /**
   * Use the researcher's own correction and ask for amendments from it.
   */
  useOwnCorrection(text: string = this.userCorrection): Promise<void> {
    this.userCorrection = text;
    this.choice = { origin: 'user' };
    return this.propose();
  }

  /**
   * Ask for candidate amendments from the chosen correction; an answer that
   * arrives after another choice is dropped.
   */
  async propose(): Promise<void> {
    const correction = this.correction();
    if (!correction) {
      return;
    }
    const round = ++this._round;
    this.amendmentsState = 'loading';
    this.candidates = [];
    this._changed.emit();
    try {
      const proposals = await this.client.propose(
        this.highlight,
        correction,
        this.path
      );
      if (round !== this._round) {
        return;
      }
      this.candidates = proposals.map(proposal => ({
        kind: proposal.kind,
        text: proposal.text,
        rationale: proposal.rationale,
        proposal
      }));
      this.selected = this.candidates.length ? 0 : this.candidates.length;
      this.amendmentsState = 'ready';
    } catch (error) {
      if (round !== this._round) {
        return;
      }
      this.amendmentsError =
        error instanceof Error ? error.message : String(error);
      this.amendmentsState = 'error';
      this.selected = 0;
    }
    this._changed.emit();
  }

  /**
   * The candidate at `index` (`candidates.length` is the researcher's own).
   */
  candidate(index: number): ICandidate {
    return index < this.candidates.length ? this.candidates[index] : this.own;
  }

  /**
   * Change a candidate in place (no `changed` signal: the editor owns it).
   */
  edit(
    index: number,
    changes: Partial<Pick<ICandidate, 'kind' | 'text'>>
  ): void {
    Object.assign(this.candidate(index), changes);
  }

  select(index: number): void {
    this.selected = Math.max(0, Math.min(index, this.candidates.length));
  }

  /**
   * The chosen amendment as a draft, or `null` when its text is empty.
   */
  draft(): IAmendmentDraft | null {
    const candidate = this.candidate(this.selected);
    const text = candidate.text.trim();
    if (!text) {
      return null;
    }
    return {
      kind: candidate.kind,
      text,
      rationale: candidate.rationale.trim()
    };
  }

  /**
   * What a candidate repeats or contradicts in the constitution.
   */
  warnings(index: number): IAmendmentWarning[] {
    const candidate = this.candidate(index);
    const proposal = candidate.proposal;
    const unedited =
      proposal && proposal.text === candidate.text ? proposal : undefined;
    return amendmentWarnings(candidate.text, this.context(), unedited ?? {});
  }

  private _round = 0;
  private _changed = new Signal<this, void>(this);
}
