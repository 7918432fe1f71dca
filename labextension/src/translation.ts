/**
 * The extension's translation domain.
 *
 * Every plugin loads its `TranslationBundle` from the application's
 * `ITranslator` (`nullTranslator` without one) with this domain and passes it
 * down to what it builds; views take it as `trans`.
 */

/**
 * The gettext domain of the front end's strings: the Python package's name,
 * as language packs and `jupyterlab-translate` name an extension's catalog
 * (JupyterLab normalizes `jupyter-collab` to it too). The settings schema
 * declares the same domain (`jupyter.lab.internationalization`).
 */
export const TRANSLATION_DOMAIN = 'jupyter_collab';
