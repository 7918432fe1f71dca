/**
 * The user settings of the front end (schema: labextension/schema/plugin.json).
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

export interface ICollabSettings {
  /** `--mode` written into new collaborator cells; '' writes none. */
  defaultMode: string;
  /** `--model` written into new collaborator cells; '' writes none. */
  defaultModel: string;
}

export const DEFAULT_SETTINGS: ICollabSettings = {
  defaultMode: '',
  defaultModel: ''
};

/**
 * Read the settings, falling back to the defaults for missing values.
 */
export function readSettings(
  settings: ISettingRegistry.ISettings | null
): ICollabSettings {
  const composite = (settings?.composite ?? {}) as Partial<ICollabSettings>;
  return {
    defaultMode:
      typeof composite.defaultMode === 'string'
        ? composite.defaultMode
        : DEFAULT_SETTINGS.defaultMode,
    defaultModel:
      typeof composite.defaultModel === 'string'
        ? composite.defaultModel
        : DEFAULT_SETTINGS.defaultModel
  };
}
