/**
 * The fact/process choice of an amendment, wherever one is written or edited
 * (the popover, the preview, the context panel).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { AmendmentKind } from '../api/wire';
import { h } from './dom';

export function kindSelect(
  value: AmendmentKind,
  onChange: (kind: AmendmentKind) => void,
  trans: TranslationBundle
): HTMLSelectElement {
  const select = h(
    'select',
    {
      className: `jp-collab-kind jp-mod-${value}`,
      aria: { label: trans.__('Kind of amendment') },
      onChange: () => {
        select.className = `jp-collab-kind jp-mod-${select.value}`;
        onChange(select.value as AmendmentKind);
      }
    },
    h('option', { value: 'fact', text: trans.__('Fact') }),
    h('option', { value: 'process', text: trans.__('Process') })
  );
  select.value = value;
  return select;
}
