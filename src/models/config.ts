/** A model's full configuration: what a checkpoint records and what `opulab train` builds. */
import { UserError } from '../util/errors';
import { builtinDefenseNames } from '../../defenses/registry';
import { BINARIZE_CENTERS, TRAINING_METHODS } from './vocabulary';
import type { BinarizeCenter, CameraConfig, DefenseName, DefensePluginRecord, OpuMode, TrainingMethod } from './vocabulary';

export * from './vocabulary';

// the feature backbone is chosen by architecture: VGG or a RepVGG CIFAR variant
// (src/models/repvgg.ts). Both sit behind Network's FeatureExtractor interface.
export const VGG_ARCHITECTURES = ['vgg11', 'vgg13', 'vgg16'] as const;
export const REPVGG_ARCHITECTURES = ['repvgg-a0', 'repvgg-a1', 'repvgg-a2'] as const;
export const ARCHITECTURES = [...VGG_ARCHITECTURES, ...REPVGG_ARCHITECTURES] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export type RepVggArchitecture = (typeof REPVGG_ARCHITECTURES)[number];

export function isRepVggArchitecture(a: string): a is RepVggArchitecture {
  return (REPVGG_ARCHITECTURES as readonly string[]).includes(a);
}

/** RepVGG weights: the multi-branch training form, or the fused single-3x3-conv deploy form. */
export type RepVggForm = 'train' | 'deploy';

/**
 * Built-in defense names, from the defense registry (defenses/builtin/, one file each): `none`, the optical head
 * and its ablations. A model's `defense` is the built-in head it runs on; a plugin defense adds `plugin`.
 */
export const DEFENSES: readonly string[] = builtinDefenseNames();

export interface ModelConfig {
  architecture: Architecture;
  width: number;
  numClasses: number;
  defense: DefenseName;
  training: TrainingMethod;
  /** Width of the head's first Dense (the OPU input size for optical heads). */
  opuIn: number;
  /** OPU output size (camera pixels used). */
  opuOut: number;
  opuMode: OpuMode;
  binarizeCenter: BinarizeCenter;
  camera?: CameraConfig;
  dropout: number;
  /** Seed of every fixed random thing: initial weights, OPU matrix, DFA feedback matrix. */
  seed: number;
  normalization: { mean: number[]; std: number[] };
  /** RepVGG only: the form the weights are in (absent = 'train'). */
  repvggForm?: RepVggForm;
  /** A defense plugin's input transform, applied in pixel space before normalization. */
  plugin?: DefensePluginRecord;
  /**
   * A name that disambiguates the model id when an experiment has several models with the same architecture,
   * defense and training (an optimizer sweep, a separately seeded surrogate): the id becomes `<id>-<label>`.
   */
  label?: string;
}

export function defaultModelConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const cfg: ModelConfig = {
    architecture: 'vgg16',
    width: 0.25,
    numClasses: 10,
    defense: 'none',
    training: 'bp',
    opuIn: 512,
    opuOut: 8000,
    opuMode: 'reference',
    binarizeCenter: 'running-mean',
    dropout: 0.5,
    seed: 0,
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    ...partial,
  };
  validateModelConfig(cfg);
  return cfg;
}

export function validateModelConfig(cfg: ModelConfig): void {
  const oneOf = <T extends string>(field: string, value: string, allowed: readonly T[]): void => {
    if (!allowed.includes(value as T)) {
      throw new UserError(`unknown ${field} '${value}': expected one of ${allowed.join(', ')}`);
    }
  };
  oneOf('model', cfg.architecture, ARCHITECTURES);
  // a plugin with its own head records its own name as the head; otherwise the head is a built-in
  if (!(cfg.plugin && cfg.defense === cfg.plugin.name)) oneOf('defense', cfg.defense, DEFENSES);
  oneOf('training', cfg.training, TRAINING_METHODS);
  oneOf('opu mode', cfg.opuMode, ['physical', 'reference'] as const);
  oneOf('binarize center', cfg.binarizeCenter, BINARIZE_CENTERS);
  if (cfg.label !== undefined && (typeof cfg.label !== 'string' || cfg.label === '')) throw new UserError(`bad model label ${JSON.stringify(cfg.label)}: expected a non-empty string`);
  const positiveInt = (field: string, v: number): void => {
    if (!Number.isInteger(v) || v <= 0) throw new UserError(`bad ${field} ${v}: expected a positive integer`);
  };
  positiveInt('opu-in', cfg.opuIn);
  positiveInt('opu-out', cfg.opuOut);
  positiveInt('classes', cfg.numClasses);
  if (!(cfg.width > 0 && cfg.width <= 4)) throw new UserError(`bad width ${cfg.width}: expected a number in (0, 4]`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new UserError(`bad dropout ${cfg.dropout}: expected [0, 1)`);
  // optional fields
  if (cfg.repvggForm !== undefined) {
    oneOf('repvgg form', cfg.repvggForm, ['train', 'deploy'] as const);
    if (!isRepVggArchitecture(cfg.architecture)) {
      throw new UserError(`repvgg form '${cfg.repvggForm}' given for model '${cfg.architecture}': only ${REPVGG_ARCHITECTURES.join(', ')} have one`);
    }
  }
  if (cfg.plugin !== undefined) {
    const p = cfg.plugin as Partial<DefensePluginRecord>;
    if (typeof p.path !== 'string' || typeof p.name !== 'string' || typeof p.params !== 'object' || p.params === null) {
      throw new UserError(`bad defense plugin record ${JSON.stringify(cfg.plugin)}: expected {path, name, params}`);
    }
  }
}

/** A readable id such as `vgg16-w0.25-optical-hybrid`. */
export function modelId(cfg: ModelConfig): string {
  // a plugin defense shows its name (plus the built-in head when it uses one).
  const defense = cfg.plugin ? (cfg.defense === 'none' || cfg.defense === cfg.plugin.name ? cfg.plugin.name : `${cfg.plugin.name}+${cfg.defense}`) : cfg.defense;
  const base = `${cfg.architecture}-w${cfg.width}-${defense}-${cfg.training}`;
  return cfg.label ? `${base}-${cfg.label}` : base;
}

