/**
 * A promotion's model preview in the context panel: each prompt of another
 * notebook the entry would reach, answered there without and with it, as the
 * loop's preview shows a probe (its notebook, the prompt, the verdict and the
 * two answers side by side). The server picks the prompts and gives the
 * verdicts; this only renders them.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IProbe, IProbeOutcome } from '../api/wire';
import { h, loading } from '../feedback/dom';
import { probeRow } from '../preview/probeRow';

/**
 * The model preview of a promotion, as far as it got.
 */
export interface IPromotionEffect {
  /**
   * The probes the server is answering; null until it says (`started`).
   */
  probes: IProbe[] | null;
  outcomes: IProbeOutcome[];
  running: boolean;
  cancelled: boolean;
  error: string | null;
}

function probeKey(probe: IProbe): string {
  return `${probe.notebook ?? ''}\n${probe.prompt}`;
}

/**
 * What the effect section says: a promotion's (the default) or an import's.
 */
export interface IEffectLabels {
  title: string;
  noProbes: string;
}

function promotionLabels(trans: TranslationBundle): IEffectLabels {
  return {
    title: trans.__('Its effect on the prompts of the notebooks it reaches'),
    noProbes: trans.__(
      'No other notebook it reaches has collaborator prompts to preview.'
    )
  };
}

/**
 * The effect section of the promotion box (or of an entry an import would bring).
 */
export function promotionEffectView(
  effect: IPromotionEffect,
  trans: TranslationBundle,
  labels: IEffectLabels = promotionLabels(trans)
): HTMLElement {
  const section = h('div', {
    className: 'jp-collab-promote-effect',
    dataset: { running: String(effect.running) }
  });
  section.appendChild(
    h('div', {
      className: 'jp-collab-promote-effect-title',
      text: labels.title
    })
  );
  if (effect.error) {
    section.appendChild(
      h('div', { className: 'jp-collab-error', text: effect.error })
    );
  }
  const probes = effect.probes;
  if (probes === null) {
    if (effect.running) {
      section.appendChild(loading(trans.__('Reading their prompts…')));
    }
    return section;
  }
  if (!probes.length) {
    section.appendChild(
      h('div', {
        className: 'jp-collab-muted jp-collab-promote-no-probes',
        text: labels.noProbes
      })
    );
    return section;
  }
  const outcomes = new Map(effect.outcomes.map(o => [probeKey(o.probe), o]));
  const answered = probes.filter(p => outcomes.has(probeKey(p))).length;
  section.appendChild(
    h('div', {
      className: 'jp-collab-muted jp-collab-promote-effect-progress',
      text: effect.running
        ? trans.__('%1 of %2 prompts answered…', answered, probes.length)
        : effect.cancelled
          ? trans.__(
              'Stopped: %1 of %2 prompts answered.',
              answered,
              probes.length
            )
          : trans.__(
              '%1 prompt(s) of %2 notebook(s), each answered with its own context.',
              probes.length,
              new Set(probes.map(p => p.notebook)).size
            )
    })
  );
  for (const probe of probes) {
    section.appendChild(
      probeRow(
        {
          probe,
          outcome: outcomes.get(probeKey(probe)) ?? null,
          previous: null,
          running: effect.running
        },
        trans
      )
    );
  }
  return section;
}
