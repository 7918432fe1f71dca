/**
 * A layer change's model preview as the tests drive it: its probes' outcomes,
 * its progress events and a running preview they end.
 */
import { StreamCancelledError } from '../api/streamErrors';
import {
  IPreviewProgress,
  IPreviewReport,
  IProbe,
  IProbeOutcome
} from '../api/wire';
import { IRunningEffect } from '../panel/effectRun';

export function probeOutcome(probe: IProbe): IProbeOutcome {
  return {
    probe,
    baseline: 'Hubinger and others.',
    amended: 'Hubinger et al. 2019.',
    baseline_hash: 'b',
    amended_hash: 'a',
    baseline_cached: false,
    verdict: 'intended',
    reason: 'It now cites the paper.',
    noise: null,
    measures: null,
    verdict_source: 'judge'
  };
}

export function progress(
  event: IPreviewProgress['event'],
  total: number
): IPreviewProgress {
  return {
    event,
    total,
    done: 0,
    outcome: null,
    report: null,
    message: null,
    noise_samples: null,
    probes: null
  };
}

/**
 * A model preview the test drives: its events and how it ends.
 */
export class FakeEffect implements IRunningEffect {
  constructor(readonly onProgress: (progress: IPreviewProgress) => void) {
    this.done = new Promise((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }
  readonly done: Promise<IPreviewReport>;
  finish!: (report: IPreviewReport) => void;
  fail!: (error: Error) => void;
  cancelled = 0;
  cancel(): void {
    this.cancelled += 1;
    this.fail(new StreamCancelledError('e'));
  }
}
