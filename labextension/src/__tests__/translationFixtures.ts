import {
  Gettext,
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from '../translation';

/**
 * The bundle the extension gets without a language pack: the strings as
 * written (English).
 */
export const trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN);

/**
 * A translator standing in for a French language pack whose catalog for the
 * extension's domain holds `messages` (plural messages as
 * `[singular, plural]`); it records the domains it was asked to load.
 */
export function frenchTranslator(
  messages: Record<string, string | [string, string]>
): ITranslator & { loaded: string[] } {
  const catalog = new Gettext({ domain: TRANSLATION_DOMAIN, locale: 'fr' });
  const entries: Record<string, string[]> = {};
  for (const [msgid, translation] of Object.entries(messages)) {
    entries[msgid] = Array.isArray(translation) ? translation : [translation];
  }
  catalog.loadJSON(
    {
      '': {
        language: 'fr',
        domain: TRANSLATION_DOMAIN,
        pluralForms: 'nplurals=2; plural=(n > 1);'
      },
      ...entries
    } as any,
    TRANSLATION_DOMAIN
  );
  const loaded: string[] = [];
  return {
    languageCode: 'fr',
    loaded,
    load: (domain: string) => {
      loaded.push(domain);
      return domain === TRANSLATION_DOMAIN ? catalog : nullTranslator.load('');
    }
  };
}
