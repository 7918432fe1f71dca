/**
 * Typed access to the jupyter-collab server extension: REST requests, the
 * wire types, the streaming socket and the notebook context.
 */
export * from './anchors';
export * from './cell';
export * from './context';
export * from './info';
export * from './layers';
export * from './loop';
export * from './request';
export * from './stream';
export * from './streamErrors';
export * from './streamSocket';
export * from './wire';
