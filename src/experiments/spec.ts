/**
 * Experiment specs: one JSON file naming the dataset, the models (architecture x defense x training), the
 * attacks (with eps lists, units, budgets, gradient modes) and the sample set. Every object has one schema
 * (below); validation errors name the JSON path (e.g. "spec.attacks[2].eps[1]: bad eps 'x'",
 * "spec.models[0].defence: unknown field (did you mean 'defense'?)").
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkModelFile } from '../import';
import { UserError } from '../util/errors';
import { ARCHITECTURES, BINARIZE_CENTERS, DEFENSES, TRAINING_METHODS } from '../models/config';
import { OPTIMIZERS } from '../training/optimizers';
import { SCHEDULES } from '../training/schedules';
import { DATASET_NAMES, DatasetName, normalizationFor } from '../../datasets/types';
import { isPluginPath } from '../plugins/file';
import { resolveAttack } from '../plugins/attack';
import { buildModelConfig } from '../models/build-config';
import { checkGradientModeText } from '../models/classifier';
import { Camera, CameraOptions, CAMERA_OPTION_KEYS } from '../optics/camera';
import { defaultNorm } from '../../attacks/registry';
import { parseEps } from '../../attacks/eps';
import { attackParams } from './execute';
import { declaredGradientModes, formatGradientModes } from './gradient-modes';
import { findGradientMode } from '../../defenses/registry';
import { BUILTIN_MODE_NAMES } from '../../defenses/gradient-modes';
import { nearestName } from '../util/nearest';
import type { GradientModeDecl } from '../../defenses/types';
import { ArraySchema, BooleanSchema, NumberSchema, ObjectSchema, RecordSchema, StringSchema, UnionSchema, schemaReference, validate } from './schema';

/** The gradient modes of a model file in a spec (its true gradient; straight-through is a CLI choice, docs/import.md). */
export const FILE_GRADIENT_MODES: readonly GradientModeDecl[] = [
  { name: 'natural', surrogate: 'the true gradient of the model file (tfjs autodiff of its graph)', path: { dfa: false, sign: 'zero', opu: 'none' } },
];

export interface TrainSpec {
  epochs: number;
  optimizer: string;
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  schedule: string;
  batchSize: number;
  augment: boolean;
  /** Micro-batches per batch (each with its own BatchNorm statistics), spread over --workers threads. */
  gradShards: number;
}

export interface ModelSpec {
  /** Short name used by attacks and in results (e.g. "baseline", "optical"). */
  name: string;
  architecture: string;
  width: number;
  /** A built-in defense name or a defense plugin file path. */
  defense: string;
  /** Parameters of a defense plugin. */
  defenseParams?: Record<string, unknown>;
  training: string;
  opuIn: number;
  opuOut: number;
  opuMode: string;
  binarizeCenter: string;
  camera?: Record<string, unknown>;
  /** Seed of this model's weights and fixed matrices (default: the spec's seed). */
  seed?: number;
  train: TrainSpec;
}

/**
 * A model made outside opulab (docs/import.md): an `.onnx` file or a TensorFlow.js `model.json`, attacked like a
 * trained model and never trained. In the spec it is an entry of `models` with `file` instead of training settings.
 */
export interface FileModelSpec {
  name: string;
  /** Absolute path (a relative one in the spec file is resolved against the spec file's folder). */
  file: string;
  mean?: number[];
  std?: number[];
  layout?: 'nchw' | 'nhwc';
  classes?: number;
}

export interface AttackSpec {
  /** An attack name from `opulab list`, 'transfer', 'noise', or a plugin file path. */
  attack: string;
  /** Model names to attack (default: all). Transfer: the targets. */
  models?: string[];
  eps: (string | number)[];
  epsSpace: 'pixel' | 'normalized';
  norm: 'linf' | 'l2';
  /** Gradient modes for white-box attacks on optical models (each becomes a run). */
  gradients?: string[];
  /** Sign surrogate for BPDA modes: ste, tanh[:beta], zero. */
  signSurrogate?: string;
  /** Attack hyperparameters, passed to the attack factory. A `stepSize` is in the units of `eps` (epsSpace). */
  params: Record<string, unknown>;
  /** Number of test images for this attack (default: spec.data.attackSamples). */
  samples?: number;
  /** EOT samples when the model is stochastic (default 20; 0 disables). */
  eot?: number;
  /** Transfer only: the source model and the white-box attack that crafts the set. */
  source?: string;
  craft?: string;
  /** A label for results (default: the attack name). */
  label?: string;
}

/** Layer-similarity probe (Piriyajitakonkij et al. 2024, low- vs high-level similarity): clean vs adversarial features, layer by layer, for every model. */
export interface ProbeSpec {
  attack: string;
  eps: string;
  params: Record<string, unknown>;
  gradient: string;
  samples: number;
}

export interface ExperimentSpec {
  name: string;
  seed: number;
  dataset: string;
  data: { trainSamples?: number; testSamples: number; attackSamples: number; evalBatchSize: number };
  /** The models to train (the entries of `models` without `file`). */
  models: ModelSpec[];
  /** The model files (the entries of `models` with `file`), in spec order. */
  modelFiles: FileModelSpec[];
  attacks: AttackSpec[];
  probe?: ProbeSpec;
}

// ---- The schema of every spec object, declared once: it validates specs and generates the README reference. ----

const str = (expected?: string): StringSchema => ({ kind: 'string', ...(expected ? { expected } : {}) });
const choice = (choices: readonly string[]): StringSchema => ({ kind: 'string', choices });
const posInt: NumberSchema = { kind: 'number', integer: true, min: 1 };
const int: NumberSchema = { kind: 'number', integer: true };
const bool: BooleanSchema = { kind: 'boolean' };
const record = (expected?: string, check?: (v: never, path: string) => string | undefined): RecordSchema => ({ kind: 'record', ...(expected ? { expected } : {}), ...(check ? { check } : {}) });
const nameList: ArraySchema = { kind: 'array', items: str(), expected: 'a list of model names' };

/** A UserError's message from `f`, or undefined when it succeeds (for schema checks). */
function problem(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
}

const epsItem: UnionSchema = {
  kind: 'union',
  of: [
    { kind: 'number', min: 0 },
    { kind: 'string', check: (v: string) => problem(() => parseEps(v)) },
  ],
  expected: "a number >= 0 or a string such as '8/255'",
};

const gradientMode: StringSchema = {
  kind: 'string',
  expected: "a gradient mode: natural, true, bpda-random, bpda-true, bpda-estimated[:N], bpda-none, or one a defense plugin declares",
  check: (v: string) => problem(() => checkGradientModeText(v)),
};

export const TRAIN_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'models[].train',
  fields: {
    epochs: { schema: posInt, default: 1, doc: 'training epochs (a rerun with more continues from the checkpoint)' },
    optimizer: { schema: choice(OPTIMIZERS), default: 'adam', doc: 'optimizer' },
    lr: { schema: { kind: 'number', min: 0, exclusiveMin: true }, defaultText: '1e-3 (adam, adamw, rmsprop), 1e-2 (sgd)', doc: 'learning rate' },
    weightDecay: { schema: { kind: 'number', min: 0 }, defaultText: '0 (adamw: 0.01)', doc: 'weight decay' },
    momentum: { schema: { kind: 'number', min: 0, max: 1, exclusiveMax: true }, defaultText: "the optimizer's", doc: 'SGD / RMSprop momentum' },
    nesterov: { schema: bool, default: false, doc: 'Nesterov momentum (sgd)' },
    schedule: { schema: choice(SCHEDULES), default: 'plateau', doc: 'learning-rate schedule' },
    batchSize: { schema: posInt, default: 128, doc: 'batch size' },
    augment: { schema: bool, default: true, doc: 'random crop + flip (+ rotation on CIFAR-100)' },
    gradShards: { schema: posInt, default: 1, doc: 'micro-batches per batch (own BatchNorm statistics, gradients averaged), spread over --workers' },
  },
};

export const MODEL_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'models[]',
  fields: {
    name: { schema: str(), required: true, doc: 'short name used by attacks and in results (unique)' },
    architecture: { schema: choice(ARCHITECTURES), default: 'vgg16', doc: 'backbone' },
    width: { schema: { kind: 'number', min: 0, max: 4, exclusiveMin: true }, default: 0.25, doc: 'channel width multiplier (1 = the paper)' },
    defense: {
      schema: {
        kind: 'string',
        choices: DEFENSES,
        expected: `one of ${DEFENSES.join(', ')}, or a defense plugin file (./my-defense.js)`,
        check: (v: string) => ((DEFENSES as readonly string[]).includes(v) || isPluginPath(v) ? undefined : `bad value ${JSON.stringify(v)}: expected one of ${DEFENSES.join(', ')}, or a defense plugin file (./my-defense.js)`),
      },
      default: 'none',
      doc: 'defense head, or a plugin file (loaded and checked when the spec is read)',
    },
    defenseParams: { schema: record('an object of plugin parameters'), doc: "parameters of a defense plugin (merged into the plugin's defaults)" },
    training: { schema: choice(TRAINING_METHODS), default: 'bp', doc: 'bp, dfa, or hybrid (backprop above the feedback point, DFA below)' },
    opuIn: { schema: posInt, default: 512, doc: 'OPU input size (the head hidden width)' },
    opuOut: { schema: posInt, default: 8000, doc: 'OPU output size (camera pixels)' },
    opuMode: { schema: choice(['reference', 'physical']), default: 'reference', doc: "'reference' (real W, (xW)^2) or 'physical' (complex R, |xR|^2)" },
    binarizeCenter: { schema: choice(BINARIZE_CENTERS), default: 'running-mean', doc: 'what Sign(x - center) subtracts' },
    camera: {
      schema: record(`an object of camera options (${CAMERA_OPTION_KEYS.join(', ')})`, (v: Record<string, unknown>) => problem(() => new Camera(v as CameraOptions))),
      doc: 'camera model of the OPU readout (identity when absent)',
    },
    seed: { schema: int, defaultText: 'spec.seed', doc: "seed of this model's weights and fixed matrices (a separately trained surrogate)" },
    train: { schema: TRAIN_SCHEMA, default: {}, doc: 'training recipe (below)' },
  },
};

const TRAINED_FIELDS = Object.keys(MODEL_SCHEMA.fields).filter((k) => k !== 'name');

export const FILE_MODEL_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'models[] with file',
  fields: {
    name: { schema: str(), required: true, doc: 'short name used by attacks and in results (unique; the model id is `file:<name>`)' },
    file: { schema: str('a path to an .onnx file or a TensorFlow.js model.json'), required: true, doc: "a model made outside opulab (docs/import.md): an `.onnx` file or a TensorFlow.js `model.json` with its weight shards; relative to the spec file's folder; never trained" },
    mean: { schema: { kind: 'array', items: { kind: 'number' }, minItems: 1, expected: 'a list of numbers (one per channel, or one for all)' }, defaultText: 'none (the model normalizes inside)', doc: 'per-channel mean subtracted from [0,1] pixels before the model (with `std`)' },
    std: { schema: { kind: 'array', items: { kind: 'number', min: 0, exclusiveMin: true }, minItems: 1, expected: 'a list of positive numbers (one per channel, or one for all)' }, defaultText: 'none', doc: 'per-channel std the centred pixels are divided by (with `mean`; converts normalized eps)' },
    layout: { schema: choice(['nchw', 'nhwc']), defaultText: 'read from the model', doc: 'input layout of the model' },
    classes: { schema: { kind: 'number', integer: true, min: 2 }, defaultText: 'read from the model', doc: 'class count (checked against the model)' },
  },
  unknownField: (k) => (TRAINED_FIELDS.includes(k) ? `a training setting beside "file": a model file is attacked as it is, never trained; remove '${k}' (or "file")` : undefined),
};

/** A models[] entry: a model file when it has `file`, else a model to train. */
const MODEL_ENTRY: UnionSchema = {
  kind: 'union',
  of: [MODEL_SCHEMA, FILE_MODEL_SCHEMA],
  expected: 'an object (models[])',
  select: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) && 'file' in v ? FILE_MODEL_SCHEMA : MODEL_SCHEMA),
};

export const ATTACK_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'attacks[]',
  fields: {
    attack: { schema: str('an attack name (opulab list), transfer, noise, or an attack plugin file'), required: true, doc: 'attack name from `opulab list`, `transfer`, `noise`, or a plugin file' },
    models: { schema: nameList, defaultText: 'every model (transfer: every model but the source)', doc: 'names of the models to attack (transfer: the targets)' },
    eps: { schema: { kind: 'array', items: epsItem, minItems: 1, expected: "a non-empty list of numbers >= 0 or strings such as '8/255'" }, required: true, doc: "epsilons, in `epsSpace` units: numbers or strings such as '8/255'" },
    epsSpace: { schema: choice(['pixel', 'normalized']), default: 'pixel', doc: "units of `eps` and of `params.stepSize`: pixel ([0,1] images) or the model's normalized input space" },
    norm: { schema: choice(['linf', 'l2']), defaultText: "the preset's norm (square-l2-autoattack, hsja-l2: l2), else linf", doc: 'threat-model norm' },
    gradients: {
      schema: { kind: 'array', items: gradientMode, minItems: 1, expected: "a non-empty list of gradient modes (natural, true, bpda-random, bpda-true, bpda-estimated[:N], bpda-none, or ones a defense plugin declares)" },
      defaultText: '`["natural"]`',
      doc: 'gradient modes to try (each a run) on the models whose defense declares them (`opulab list` shows each defense\'s modes)',
    },
    signSurrogate: { schema: { kind: 'string', expected: 'ste, tanh[:beta] or zero', check: (v: string) => problem(() => checkGradientModeText('natural', v)) }, defaultText: '`"ste"`', doc: 'BPDA surrogate of the Sign' },
    params: { schema: record('an object of attack parameters'), default: {}, doc: "attack hyperparameters (checked against the attack's own list); `stepSize` is in `epsSpace` units" },
    samples: { schema: posInt, defaultText: 'data.attackSamples', doc: 'test images attacked (the first N; at most data.testSamples)' },
    eot: { schema: { kind: 'number', integer: true, min: 0 }, defaultText: '20', doc: 'EOT gradient samples on stochastic models (0 = off)' },
    source: { schema: str(), defaultText: 'required for transfer', doc: 'transfer only: the model that crafts the examples' },
    craft: { schema: str('a white-box attack name'), defaultText: '`"pgd"` (transfer)', doc: 'transfer only: the white-box attack that crafts the set on `source`' },
    label: { schema: str(), defaultText: 'the attack name', doc: "name of the runs in results (each run's `method` keeps the attack name)" },
  },
};

export const PROBE_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'probe',
  fields: {
    attack: { schema: str('an attack name or plugin file'), default: 'pgd', doc: 'the attack that crafts the adversarial images' },
    eps: { schema: epsItem, default: '8/255', doc: 'one eps, pixel units' },
    params: { schema: record('an object of attack parameters'), default: {}, doc: 'attack hyperparameters' },
    gradient: { schema: gradientMode, default: 'bpda-true', doc: 'gradient mode of the attacked models' },
    samples: { schema: { kind: 'number', integer: true, min: 4 }, default: 100, doc: 'test images probed (at most data.testSamples)' },
  },
};

export const DATA_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'data',
  fields: {
    trainSamples: { schema: posInt, defaultText: 'the whole training set', doc: 'training images used (the first N)' },
    testSamples: { schema: posInt, default: 1000, doc: 'test images loaded (clean accuracy is measured on all of them)' },
    attackSamples: { schema: posInt, default: 200, defaultText: '`200` (at most testSamples)', doc: 'test images attacked by default (the first N)' },
    evalBatchSize: { schema: posInt, default: 100, doc: 'images per evaluation / attack batch' },
  },
};

export const SPEC_SCHEMA: ObjectSchema = {
  kind: 'object',
  title: 'spec',
  fields: {
    name: { schema: str(), default: 'experiment', doc: 'experiment name (in results and the report)' },
    seed: { schema: int, default: 0, doc: 'seed of every random choice of the experiment' },
    dataset: { schema: choice(DATASET_NAMES), default: 'cifar10', doc: 'dataset (see Data)' },
    data: { schema: DATA_SCHEMA, default: {}, doc: 'sample sizes (below)' },
    models: { schema: { kind: 'array', items: MODEL_ENTRY, minItems: 1 }, required: true, doc: 'the models to train, or model files to attack (`file`; below)' },
    attacks: { schema: { kind: 'array', items: ATTACK_SCHEMA }, required: true, doc: 'the attacks to run (below)' },
    probe: { schema: PROBE_SCHEMA, doc: 'layer-similarity probe of every model (below); none when absent' },
  },
};

/** The README's spec field reference, generated from the schemas above. */
export function specReference(): string {
  return schemaReference(SPEC_SCHEMA);
}

/**
 * Parse and validate a spec: the shape of every object (unknown fields, types, ranges: errors name the JSON path),
 * then everything that needs the whole spec or the registries, before any work starts: model names, plugin files
 * (loaded and checked), model configs, attack names with their parameters, eps lists, gradient modes against each
 * model's defense, sample counts, transfer sources, the probe.
 */
export function parseSpec(raw: unknown, where = 'spec', baseDir = process.cwd()): ExperimentSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${where}: expected a JSON object`);
  const parsed = validate(SPEC_SCHEMA, raw, where) as Omit<ExperimentSpec, 'models' | 'modelFiles'> & { models: (ModelSpec | FileModelSpec)[] };
  const isFile = (m: ModelSpec | FileModelSpec): m is FileModelSpec => 'file' in m;
  // model files: checked (exists, parses, shards present, operators) before any work
  parsed.models.forEach((m, i) => {
    if (!isFile(m)) return;
    m.file = path.resolve(baseDir, m.file);
    if ((m.mean === undefined) !== (m.std === undefined)) throw new UserError(`${where}.models[${i}]: give both mean and std (the input normalization), or neither`);
    at(`${where}.models[${i}].file`, () => checkModelFile(m.file));
  });
  const spec: ExperimentSpec = { ...parsed, models: parsed.models.filter((m): m is ModelSpec => !isFile(m)), modelFiles: parsed.models.filter(isFile) };
  // errors name an entry by its place in the spec's models list (trained models and files mixed)
  const indexOf = new Map<object, number>(parsed.models.map((m, i) => [m, i]));
  if (spec.probe) spec.probe.eps = String(spec.probe.eps);
  for (const a of spec.attacks) if (a.attack === 'transfer' && a.craft === undefined) a.craft = 'pgd';
  for (const a of spec.attacks) if (a.norm === undefined) a.norm = defaultNorm(a.attack);
  const data = (raw as { data?: { attackSamples?: unknown } }).data;
  checkSpec(spec, where, typeof data === 'object' && data !== null && data.attackSamples !== undefined, (m) => indexOf.get(m)!);
  return spec;
}

/** `f()`, with a UserError's message prefixed by `path`. */
function at<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}

/** The checks that need the whole spec (names across objects) or the registries (attacks, plugins). */
function checkSpec(spec: ExperimentSpec, where: string, explicitAttackSamples: boolean, indexOf: (m: object) => number): void {
  const names = new Set<string>();
  /** The gradient modes each model's defense declares (defenses/). */
  const modesByName = new Map<string, readonly GradientModeDecl[]>();
  const dataset = spec.dataset as DatasetName;
  const numClasses = dataset === 'cifar100' ? 100 : 10;
  const normalization = normalizationFor(dataset);
  const entries: { name: string }[] = [...spec.models, ...spec.modelFiles].sort((a, b) => indexOf(a) - indexOf(b));
  entries.forEach((m) => {
    if (names.has(m.name)) throw new UserError(`${where}.models[${indexOf(m)}].name: duplicate model name '${m.name}'`);
    names.add(m.name);
  });
  for (const m of spec.modelFiles) modesByName.set(m.name, FILE_GRADIENT_MODES);
  spec.models.forEach((m) => {
    const p = `${where}.models[${indexOf(m)}]`;
    if (m.defenseParams !== undefined && !isPluginPath(m.defense)) throw new UserError(`${p}.defenseParams: only for a defense plugin file (defense is '${m.defense}')`);
    // loads and checks a plugin file; checks the combination of choices
    const config = at(isPluginPath(m.defense) ? `${p}.defense` : p, () => buildModelConfig({ ...m, seed: m.seed ?? spec.seed, numClasses, normalization }));
    modesByName.set(m.name, declaredGradientModes(config));
  });
  const modelList = [...names].join(', ');
  const testN = spec.data.testSamples;
  // the default (200) is capped at testSamples; a value given explicitly must fit
  if (explicitAttackSamples && spec.data.attackSamples > testN) {
    throw new UserError(`${where}.data.attackSamples: ${spec.data.attackSamples} is more than data.testSamples (${testN}): only the loaded test images can be attacked`);
  }
  spec.attacks.forEach((a, i) => {
    const p = `${where}.attacks[${i}]`;
    (a.models ?? []).forEach((m, j) => {
      if (!names.has(m)) throw new UserError(`${p}.models[${j}]: unknown model '${m}': expected one of ${modelList}`);
    });
    if (a.samples !== undefined && a.samples > testN) throw new UserError(`${p}.samples: ${a.samples} is more than data.testSamples (${testN}): only the loaded test images can be attacked`);
    const std = normalization.std;
    const req = { attack: a.attack, params: a.params, norm: a.norm, eps: a.eps, epsSpace: a.epsSpace, gradient: 'natural', signSurrogate: 'ste', eot: 0, batchSize: 1, seed: 0 };
    if (a.attack === 'transfer') {
      if (a.source === undefined) throw new UserError(`${p}.source: missing: a transfer attack names the model that crafts the examples (one of ${modelList})`);
      if (!names.has(a.source)) throw new UserError(`${p}.source: unknown model '${a.source}': expected one of ${modelList}`);
      if (a.models?.includes(a.source)) throw new UserError(`${p}.models: lists the transfer source '${a.source}' itself; expected other models`);
      if (a.gradients !== undefined) throw new UserError(`${p}.gradients: not used by transfer attacks (the source's own gradient crafts the set); remove it`);
      const targets = a.models ?? [...names].filter((n) => n !== a.source);
      if (targets.length === 0) throw new UserError(`${p}.models: no target model besides the source '${a.source}'`);
      const craft = at(`${p}.craft`, () => resolveAttack(a.craft!, attackParams({ ...req, attack: a.craft! }, std)));
      if (craft.threat !== 'white-box' && craft.threat !== 'transfer') throw new UserError(`${p}.craft: '${a.craft}' is a ${craft.threat} attack; expected a white-box attack that crafts on the source`);
      return;
    }
    if (a.source !== undefined) throw new UserError(`${p}.source: only for transfer attacks (attack is '${a.attack}')`);
    if (a.craft !== undefined) throw new UserError(`${p}.craft: only for transfer attacks (attack is '${a.attack}')`);
    at(isPluginPath(a.attack) ? `${p}.attack` : p, () => resolveAttack(a.attack, attackParams(req, std)));
    const targets = a.models ?? [...names];
    (a.gradients ?? []).forEach((g, j) => {
      const name = g.split(':')[0];
      const known = [...new Set([...BUILTIN_MODE_NAMES, ...[...modesByName.values()].flatMap((ms) => ms.map((m) => m.name))])];
      if (!known.includes(name)) {
        const near = nearestName(name, known);
        throw new UserError(`${p}.gradients[${j}]: unknown gradient mode '${g}'${near ? ` (did you mean '${near}'?)` : ''}: expected one of ${known.join(', ')}`);
      }
      if (!targets.some((n) => findGradientMode(modesByName.get(n)!, g) !== undefined)) {
        const declared = targets.map((n) => `${n}: ${formatGradientModes(modesByName.get(n)!)}`).join('; ');
        throw new UserError(`${p}.gradients[${j}]: '${g}' is declared by none of the attacked models' defenses (${declared})`);
      }
    });
  });
  if (spec.probe) {
    const p = `${where}.probe`;
    const pr = spec.probe;
    at(`${p}.eps`, () => parseEps(pr.eps));
    if (pr.samples > testN) throw new UserError(`${p}.samples: ${pr.samples} is more than data.testSamples (${testN})`);
    const req = { attack: pr.attack, params: { norm: 'linf', ...pr.params }, norm: 'linf' as const, eps: [pr.eps], epsSpace: 'pixel' as const, gradient: pr.gradient, signSurrogate: 'ste', eot: 0, batchSize: 1, seed: 0 };
    at(p, () => resolveAttack(pr.attack, attackParams(req, normalization.std)));
  }
}

export function readSpecFile(file: string): ExperimentSpec {
  if (!fs.existsSync(file)) throw new UserError(`spec file '${file}' not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`spec file '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  return at(file, () => parseSpec(raw, 'spec', path.dirname(path.resolve(file))));
}
