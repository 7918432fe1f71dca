/**
 * The answer renderer and the marks helper.
 */
export * from './answer';
export * from './events';
export * from './footer';
export * from './marks';
export { rendererFactory, RENDERER_RANK } from './mime';
