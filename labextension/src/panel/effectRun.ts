/**
 * A model preview of a layer change running on the server (a promotion's or an
 * import's): its progress events gathered into what the effect view renders.
 */
import { isCancelled } from '../api/streamErrors';
import { IPreviewProgress, IPreviewReport } from '../api/wire';
import { errorMessage } from './client';
import { IPromotionEffect } from './promotionEffectView';

/**
 * A model preview running on the server.
 */
export interface IRunningEffect {
  readonly done: Promise<IPreviewReport>;
  cancel(): void;
}

/**
 * Start a model preview with `start` and follow it: `changed` after every event
 * and at the end, `settled` once it has ended (finished, cancelled or failed).
 */
export function followEffect(
  start: (onProgress: (progress: IPreviewProgress) => void) => IRunningEffect,
  changed: () => void,
  settled: (running: IRunningEffect) => void = () => undefined
): { effect: IPromotionEffect; running: IRunningEffect } {
  const effect: IPromotionEffect = {
    probes: null,
    outcomes: [],
    running: true,
    cancelled: false,
    error: null
  };
  const running = start(progress => {
    if (progress.event === 'started') {
      effect.probes = progress.probes ?? [];
    }
    if (progress.outcome) {
      effect.outcomes.push(progress.outcome);
    }
    changed();
  });
  running.done
    .then(
      report => {
        effect.cancelled = report.cancelled;
      },
      error => {
        effect.cancelled = isCancelled(error);
        effect.error = effect.cancelled ? null : errorMessage(error);
      }
    )
    .finally(() => {
      effect.running = false;
      settled(running);
      changed();
    });
  return { effect, running };
}
