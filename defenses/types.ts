/**
 * The ONE interface every defense implements, built-in (defenses/builtin/*.ts, one file each) or plugin (a .js
 * file loaded by the same registry, defenses/plugin.ts). A defense may
 *   - transform the input in pixel space (with its BPDA surrogates),
 *   - replace the classifier head by a declared sequence of primitive stages (src/models/head.ts),
 *   - constrain or choose the training method,
 *   - declare whether it is stochastic,
 *   - declare the gradient modes an attacker can use against it, with the surrogate each one means,
 *   - describe itself for records (name, source, parameters).
 * Network and the training loop see only this interface; nothing outside defenses/ knows a defense by name.
 */
import type { BinarizeCenter, CameraConfig, OpuMode, PluginParamValue, TrainingMethod } from '../src/models/vocabulary';
import type { GradientPath, HeadStage, InputTransform } from '../src/models/head';

/** What a defense may read of the model it is part of (the user's model options). */
export interface DefenseContext {
  numClasses: number;
  training: TrainingMethod;
  opuIn: number;
  opuOut: number;
  opuMode: OpuMode;
  binarizeCenter: BinarizeCenter;
  camera?: CameraConfig;
}

/**
 * One gradient mode a defense offers an attacker. `path` says what each primitive stage does on the way back;
 * `surrogate` says it in words (shown by `opulab list` and next to the mode in records).
 */
export interface GradientModeDecl {
  /** Mode name as written by users (`--gradient NAME`, spec `gradients`), e.g. 'bpda-true'. */
  name: string;
  /** What the backward pass means under this mode (the surrogate of each non-differentiable stage). */
  surrogate: string;
  path: GradientPath;
  /** 'N': the mode takes `:N` (OPU queries for system identification); `defaultArgument` when omitted. */
  argument?: 'N';
  defaultArgument?: number;
  /** The label a run records when it differs from the name (an undefended bp model's natural gradient is exact backprop: 'true'). */
  recordAs?: string;
  /** True when the mode passes a Sign through a surrogate, so `--sign-surrogate` applies. */
  signSurrogate?: boolean;
}

/** Where a defense comes from. */
export type DefenseSource = { kind: 'built-in' } | { kind: 'file'; path: string; sha256: string };

/** What a model record (results.json) and a checkpoint say about the defense. */
export interface DefenseRecord {
  name: string;
  /** 'built-in', or the plugin file's absolute path. */
  source: 'built-in' | 'file';
  path?: string;
  sha256?: string;
  params: Record<string, PluginParamValue>;
  /** The built-in head under a plugin's input transform, when it has one (e.g. 'optical'). */
  head?: string;
}

export interface Defense {
  /** Identifier in model ids and records (letters, digits, '.', '_', '-'). */
  readonly name: string;
  /** One line for `opulab list`. */
  readonly describe: string;
  readonly source: DefenseSource;
  /** Parameters the defense was built with (a plugin's defaults merged with the user's values). */
  readonly params: Readonly<Record<string, PluginParamValue>>;
  /** Name of the built-in head this defense runs on (itself for built-ins; a plugin's `head`, default 'none'). */
  readonly headName: string;
  /** Training method the defense imposes (absent: the user's choice). */
  readonly training?: TrainingMethod;
  /** Training methods the defense accepts (absent: all). */
  readonly trainings?: readonly TrainingMethod[];
  /** Pixel-space input transform applied before normalization (null: none). */
  readonly inputTransform: InputTransform | null;
  /** The head's primitive stages for a model (declarative; src/models/head.ts). */
  head(ctx: DefenseContext): HeadStage[];
  /** True when two forward passes on the same input can differ (attacks then use EOT). */
  stochastic(ctx: DefenseContext): boolean;
  /** The gradient modes an attacker can use against this defense on a model trained with `ctx.training`. */
  gradientModes(ctx: DefenseContext): GradientModeDecl[];
  /** Run every hook once on a tiny seeded batch (needs an initialised tfjs backend); throws a one-line UserError. */
  check(): void;
  record(): DefenseRecord;
}

/** What a built-in defense file (defenses/builtin/<name>.ts) exports as `default`. */
export interface BuiltinDefense {
  name: string;
  describe: string;
  /** Position in `opulab list` and help texts (lower first). */
  order: number;
  trainings?: readonly TrainingMethod[];
  head(ctx: DefenseContext): HeadStage[];
  stochastic(ctx: DefenseContext): boolean;
  gradientModes(ctx: DefenseContext): GradientModeDecl[];
}
