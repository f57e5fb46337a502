/** Defenses: one interface (types.ts), one registry (registry.ts), built-ins in builtin/ (one file each). */
export type { Defense, DefenseContext, DefenseRecord, DefenseSource, GradientModeDecl, BuiltinDefense } from './types';
export {
  builtinDefenses,
  builtinDefenseNames,
  resolveDefense,
  loadDefenseFile,
  defenseForConfig,
  defenseContext,
  gradientModesFor,
  findGradientMode,
  headStagesFor,
} from './registry';
export type { DefenseConfig, PluginRef } from './registry';
export { PLUGIN_RUNTIME } from './plugin';
export type { LoadedPluginDefense } from './plugin';
