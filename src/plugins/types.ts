/**
 * The published plugin interfaces (docs/architecture.md §2). A plugin is ONE CommonJS file exporting an
 * object (module.exports = {...} or exports.default = {...}); `import type { DefensePlugin } from 'opulab'`
 * gives editor completion. Plugins receive opulab's own tfjs instance in their context (`ctx.tf`): use it
 * rather than requiring @tensorflow/tfjs-core yourself, so tensors never cross two engines.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { Attack, Norm, ThreatModel } from '../types';
import type { ParamSpecs } from '../../attacks/params';
import type { DefenseName, PluginParamValue, TrainingMethod } from '../models/vocabulary';
import type { HeadStage } from '../models/head';

export type { HeadStage } from '../models/head';
import type { Rng } from '../util/rng';

export type { PluginParamValue } from '../models/vocabulary';

/** The tfjs-core module opulab runs on. */
export type Tfjs = typeof tfc;

/** Plugin parameters by name (numbers, strings, booleans). */
export type PluginParams = Readonly<Record<string, PluginParamValue>>;

/** What every plugin callback can use besides tensors. */
export interface PluginRuntime {
  /** opulab's tfjs-core (same engine as the model's tensors). */
  tf: Tfjs;
  /** Seeded JS-side randomness: makeRng(seed, ...labels). Never use Math.random in a plugin. */
  makeRng(seed: number, ...labels: (string | number)[]): Rng;
}

/** Context of one input-transform call. */
export interface InputTransformContext extends PluginRuntime {
  /** Seed for every random op of THIS call (tfjs random ops take it directly; a fresh one per call). */
  seed: number;
  /** True inside a training step. */
  training: boolean;
  /** The plugin's parameters: its declared defaults merged with the user's values. */
  params: PluginParams;
}

/** A custom BPDA backward for the input transform: dL/dx from dL/dy at input x. */
export type SurrogateGradient = (dy: tfc.Tensor4D, x: tfc.Tensor4D, ctx: InputTransformContext) => tfc.Tensor4D;

/** What a plugin's own head function receives: the model options and the plugin's parameters. */
export interface HeadContext {
  numClasses: number;
  training: TrainingMethod;
  opuIn: number;
  opuOut: number;
  opuMode: 'reference' | 'physical';
  binarizeCenter: 'running-mean' | 'batch-mean' | 'sample-mean';
  params: PluginParams;
}

/** An extra gradient mode a plugin offers attackers: its own surrogate of the input transform (and of a Sign/OPU). */
export interface PluginGradientMode {
  /** What the backward means (shown by `opulab list`). */
  describe: string;
  /** Backward of the input transform under this mode (default 'identity'). */
  surrogate?: 'identity' | 'autodiff' | SurrogateGradient;
  /** Backward of a Sign stage (default 'ste') and of an OPU stage (default 'true'). */
  sign?: 'ste' | 'zero';
  opu?: 'none' | 'random' | 'true';
}

/**
 * A defense plugin: the same parts a built-in defense has (defenses/types.ts). Give an input transform, a head,
 * or both: a pixel-space transform applied before the model's normalization (optionally on top of a built-in
 * head such as the optical head), or a head of its own made of primitive stages (src/models/head.ts).
 */
export interface DefensePlugin {
  /** Identifier shown in model ids and results (letters, digits, '.', '_', '-'). */
  name: string;
  /** One line for `opulab list`. */
  describe?: string;
  /** Declared parameters with their DEFAULT values; users may override exactly these names. */
  params?: PluginParams;
  /** True when two calls on the same input can differ (then attacks use EOT). Default false. */
  stochastic?: boolean;
  /** NHWC pixels in [0,1] -> same shape, pixel space. Use ctx.tf; use ctx.seed for every random op. */
  transformInput?(x: tfc.Tensor4D, ctx: InputTransformContext): tfc.Tensor4D;
  /**
   * The gradient exposed under BPDA gradient modes (bpda-*): 'identity' (straight-through, the default:
   * Athalye et al. 2018), 'autodiff' (the transform is differentiable: use its true gradient), or a function.
   * Under the 'natural' mode the transform is always differentiated as written.
   */
  surrogate?: 'identity' | 'autodiff' | SurrogateGradient;
  /** A built-in head under the transform by name (default 'none' = the baseline head), or its own stages. */
  head?: DefenseName | ((ctx: HeadContext) => HeadStage[]);
  /** Training method (default: the one the user chose). */
  training?: TrainingMethod;
  /** Extra gradient modes by name, besides the ones that follow from the head and the surrogate. */
  gradientModes?: Readonly<Record<string, PluginGradientMode>>;
}

/** An attack plugin: a factory of Attack objects (src/types.ts); it sees models only through Classifier. */
export interface AttackPlugin {
  /** Name used with `--attack NAME` once loaded, and in results (must not shadow a built-in attack). */
  name: string;
  threat: ThreatModel;
  norm: Norm;
  /** One line for `opulab list`. */
  describe?: string;
  /**
   * The declared parameters, in the schema every built-in attack uses (attacks/params.ts): name -> { type:
   * 'number' | 'integer' | 'boolean' | 'enum' | 'string', default, description, min/max, options }. When given,
   * opulab checks user values (one-line errors), fills the defaults and lists them in `opulab list --params`;
   * create() receives the checked values.
   */
  params?: ParamSpecs;
  /** Build a configured attack; throw (ideally with a clear message) on bad params. */
  create(params: Readonly<Record<string, unknown>>, runtime: PluginRuntime): Attack;
}

/** One loaded plugin, as `listPlugins()` reports it. */
export interface PluginInfo {
  kind: 'defense' | 'attack';
  name: string;
  path: string;
  description: string;
}
