/**
 * opulab's package entry (package.json "main"/"types"). Plugin authors get completion with
 *   /** @type {import('opulab').DefensePlugin} *\/ module.exports = { ... }      (JS + JSDoc)
 *   import type { AttackPlugin } from 'opulab';                                   (TypeScript)
 */
export type { Classifier, Attack, AttackOutcome, AttackContext, LossFn, LossAndGradient, Norm, EpsSpace, ThreatModel } from './types';
export type {
  DefensePlugin,
  AttackPlugin,
  InputTransformContext,
  SurrogateGradient,
  PluginRuntime,
  PluginParams,
  PluginParamValue,
  PluginInfo,
  PluginGradientMode,
  HeadContext,
  Tfjs,
} from './plugins/types';
export type { Rng } from './util/rng';
export type { ModelConfig, Architecture, DefenseName, TrainingMethod } from './models/config';
export type { ProbeExtra, ProbeCurve, OptimizerSweepRow } from '../reports/extras';

export { loadDefensePlugin, applyDefensePlugin, loadAttackPlugin, resolveAttack, listPlugins, isPluginPath } from './plugins';
export { UserError } from './util/errors';
export { resolveDefense, gradientModesFor, builtinDefenseNames } from '../defenses/registry';
export type { Defense, DefenseContext, DefenseRecord, GradientModeDecl } from '../defenses/types';
export type { HeadStage, GradientPath } from './models/head';
