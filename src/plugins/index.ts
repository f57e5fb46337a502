/** Plugin loading (defense and attack plugin files) and the published plugin types. */
export { loadDefensePlugin, applyDefensePlugin, PLUGIN_RUNTIME } from './defense';
export type { LoadedDefensePlugin } from './defense';
export { loadAttackPlugin, resolveAttack } from './attack';
export type { LoadedAttackPlugin } from './attack';
export { isPluginPath } from './file';
export { parseParamPairs, mergeParams } from './params';
export { listPlugins } from './list';
export type * from './types';
