/**
 * The server extension's handshake and model setup.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';
import { IModelsInfo, IVersionInfo } from './wire';

/**
 * `GET jupyter-collab/version`: version, context schema version and provider.
 */
export function getVersion(
  settings?: ServerConnection.ISettings
): Promise<IVersionInfo> {
  return requestAPI<IVersionInfo>('version', { method: 'GET' }, settings);
}

/**
 * `GET jupyter-collab/models`: the provider, default and allowed models.
 */
export function getModels(
  settings?: ServerConnection.ISettings
): Promise<IModelsInfo> {
  return requestAPI<IModelsInfo>('models', { method: 'GET' }, settings);
}
