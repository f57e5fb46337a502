/**
 * Experiment specs: one JSON file naming the dataset, the models (architecture x defense x training), the
 * attacks (with eps lists, units, budgets, gradient modes) and the sample set. Validation errors name the field
 * (e.g. "spec.attacks[2].eps[1]: bad eps 'x'").
 */
import * as fs from 'fs';
import { UserError } from '../util/errors';
import { ARCHITECTURES, BINARIZE_CENTERS, DEFENSES, TRAINING_METHODS } from '../models/config';
import { OPTIMIZERS } from '../training/optimizers';
import { SCHEDULES } from '../training/schedules';
import { DATASET_NAMES } from '../../datasets/types';
import { isPluginPath } from '../plugins/file';

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

/** Layer-similarity probe (REFERENCE.md §6): clean vs adversarial features, layer by layer, for every model. */
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
  models: ModelSpec[];
  attacks: AttackSpec[];
  probe?: ProbeSpec;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Field {
  constructor(readonly path: string, readonly value: unknown) {}
  bad(expected: string): UserError {
    return new UserError(`${this.path}: bad value ${JSON.stringify(this.value)}: expected ${expected}`);
  }
}

function get(obj: Json, key: string, path: string): Field {
  return new Field(`${path}.${key}`, obj[key]);
}

function str(f: Field, def?: string): string {
  if (f.value === undefined && def !== undefined) return def;
  if (typeof f.value !== 'string' || f.value === '') throw f.bad('a non-empty string');
  return f.value;
}

function oneOf<T extends string>(f: Field, allowed: readonly T[], def?: T): T {
  const v = str(f, def);
  if (!allowed.includes(v as T)) throw f.bad(`one of ${allowed.join(', ')}`);
  return v as T;
}

function num(f: Field, def: number | undefined, ok: (v: number) => boolean, expected: string): number {
  if (f.value === undefined && def !== undefined) return def;
  if (typeof f.value !== 'number' || !Number.isFinite(f.value) || !ok(f.value)) throw f.bad(expected);
  return f.value;
}

const posInt = (f: Field, def?: number): number => num(f, def, (v) => Number.isInteger(v) && v > 0, 'a positive integer');

function optNum(f: Field, ok: (v: number) => boolean, expected: string): number | undefined {
  return f.value === undefined ? undefined : num(f, undefined, ok, expected);
}

function bool(f: Field, def: boolean): boolean {
  if (f.value === undefined) return def;
  if (typeof f.value !== 'boolean') throw f.bad('true or false');
  return f.value;
}

function strList(f: Field): string[] | undefined {
  if (f.value === undefined) return undefined;
  if (!Array.isArray(f.value) || f.value.some((v) => typeof v !== 'string')) throw f.bad('a list of strings');
  return f.value as string[];
}

export function parseSpec(raw: unknown, where = 'spec'): ExperimentSpec {
  if (!isObject(raw)) throw new UserError(`${where}: expected a JSON object`);
  const dataRaw = raw.data === undefined ? {} : raw.data;
  if (!isObject(dataRaw)) throw new Field(`${where}.data`, dataRaw).bad('an object');
  const data = {
    trainSamples: optNum(get(dataRaw, 'trainSamples', `${where}.data`), (v) => Number.isInteger(v) && v > 0, 'a positive integer'),
    testSamples: posInt(get(dataRaw, 'testSamples', `${where}.data`), 1000),
    attackSamples: posInt(get(dataRaw, 'attackSamples', `${where}.data`), 200),
    evalBatchSize: posInt(get(dataRaw, 'evalBatchSize', `${where}.data`), 100),
  };
  if (!Array.isArray(raw.models) || raw.models.length === 0) throw new Field(`${where}.models`, raw.models).bad('a non-empty list of models');
  const models = raw.models.map((m, i) => parseModel(m, `${where}.models[${i}]`));
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new UserError(`${where}.models: duplicate model name '${m.name}'`);
    names.add(m.name);
  }
  if (!Array.isArray(raw.attacks)) throw new Field(`${where}.attacks`, raw.attacks).bad('a list of attacks');
  const attacks = raw.attacks.map((a, i) => parseAttack(a, `${where}.attacks[${i}]`, names));
  let probe: ProbeSpec | undefined;
  if (raw.probe !== undefined) {
    const pr = raw.probe;
    const pp = `${where}.probe`;
    if (!isObject(pr)) throw new Field(pp, pr).bad('an object');
    const params = pr.params === undefined ? {} : pr.params;
    if (!isObject(params)) throw new Field(`${pp}.params`, params).bad('an object');
    probe = {
      attack: str(get(pr, 'attack', pp), 'pgd'),
      eps: String(pr.eps ?? '8/255'),
      params,
      gradient: str(get(pr, 'gradient', pp), 'bpda-true'),
      samples: num(get(pr, 'samples', pp), 100, (v) => Number.isInteger(v) && v >= 4, 'an integer >= 4'),
    };
  }
  return {
    probe,
    name: str(get(raw, 'name', where), 'experiment'),
    seed: num(get(raw, 'seed', where), 0, Number.isInteger, 'an integer'),
    dataset: oneOf(get(raw, 'dataset', where), DATASET_NAMES, 'cifar10'),
    data,
    models,
    attacks,
  };
}

function parseModel(m: unknown, path: string): ModelSpec {
  if (!isObject(m)) throw new Field(path, m).bad('an object');
  const t = m.train === undefined ? {} : m.train;
  if (!isObject(t)) throw new Field(`${path}.train`, t).bad('an object');
  const tp = `${path}.train`;
  const optimizer = oneOf(get(t, 'optimizer', tp), OPTIMIZERS, 'adam');
  return {
    name: str(get(m, 'name', path)),
    architecture: oneOf(get(m, 'architecture', path), ARCHITECTURES, 'vgg16'),
    width: num(get(m, 'width', path), 0.25, (v) => v > 0 && v <= 4, 'a number in (0, 4]'),
    defense: isPluginPath(String(m.defense ?? '')) ? str(get(m, 'defense', path)) : oneOf(get(m, 'defense', path), DEFENSES, 'none'),
    defenseParams: m.defenseParams === undefined ? undefined : isObject(m.defenseParams) ? m.defenseParams : (() => { throw new Field(`${path}.defenseParams`, m.defenseParams).bad('an object'); })(),
    training: oneOf(get(m, 'training', path), TRAINING_METHODS, 'bp'),
    opuIn: posInt(get(m, 'opuIn', path), 512),
    opuOut: posInt(get(m, 'opuOut', path), 8000),
    opuMode: oneOf(get(m, 'opuMode', path), ['reference', 'physical'] as const, 'reference'),
    binarizeCenter: oneOf(get(m, 'binarizeCenter', path), BINARIZE_CENTERS, 'running-mean'),
    seed: m.seed === undefined ? undefined : num(get(m, 'seed', path), undefined, Number.isInteger, 'an integer'),
    camera: m.camera === undefined ? undefined : isObject(m.camera) ? m.camera : (() => { throw new Field(`${path}.camera`, m.camera).bad('an object'); })(),
    train: {
      epochs: num(get(t, 'epochs', tp), 1, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'),
      optimizer,
      lr: optNum(get(t, 'lr', tp), (v) => v > 0, 'a positive number'),
      weightDecay: optNum(get(t, 'weightDecay', tp), (v) => v >= 0, 'a number >= 0'),
      momentum: optNum(get(t, 'momentum', tp), (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
      nesterov: bool(get(t, 'nesterov', tp), false),
      schedule: oneOf(get(t, 'schedule', tp), SCHEDULES, 'plateau'),
      batchSize: posInt(get(t, 'batchSize', tp), 128),
      augment: bool(get(t, 'augment', tp), true),
      gradShards: posInt(get(t, 'gradShards', tp), 1),
    },
  };
}

function parseAttack(a: unknown, path: string, modelNames: Set<string>): AttackSpec {
  if (!isObject(a)) throw new Field(path, a).bad('an object');
  const attack = str(get(a, 'attack', path));
  const eps = a.eps;
  if (!Array.isArray(eps) || eps.length === 0 || eps.some((e) => typeof e !== 'string' && typeof e !== 'number')) {
    throw new Field(`${path}.eps`, eps).bad("a non-empty list of numbers or strings like '8/255'");
  }
  const models = strList(get(a, 'models', path));
  for (const [i, m] of (models ?? []).entries()) {
    if (!modelNames.has(m)) throw new UserError(`${path}.models[${i}]: unknown model '${m}': expected one of ${[...modelNames].join(', ')}`);
  }
  const params = a.params === undefined ? {} : a.params;
  if (!isObject(params)) throw new Field(`${path}.params`, params).bad('an object');
  const spec: AttackSpec = {
    attack,
    models,
    eps: eps as (string | number)[],
    epsSpace: oneOf(get(a, 'epsSpace', path), ['pixel', 'normalized'] as const, 'pixel'),
    norm: oneOf(get(a, 'norm', path), ['linf', 'l2'] as const, 'linf'),
    gradients: strList(get(a, 'gradients', path)),
    signSurrogate: a.signSurrogate === undefined ? undefined : str(get(a, 'signSurrogate', path)),
    params,
    samples: optNum(get(a, 'samples', path), (v) => Number.isInteger(v) && v > 0, 'a positive integer'),
    eot: optNum(get(a, 'eot', path), (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer'),
    label: a.label === undefined ? undefined : str(get(a, 'label', path)),
  };
  if (attack === 'transfer') {
    spec.source = str(get(a, 'source', path));
    if (!modelNames.has(spec.source)) throw new UserError(`${path}.source: unknown model '${spec.source}'`);
    spec.craft = str(get(a, 'craft', path), 'pgd');
  }
  return spec;
}

export function readSpecFile(file: string): ExperimentSpec {
  if (!fs.existsSync(file)) throw new UserError(`spec file '${file}' not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`spec file '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  return parseSpec(raw, file);
}
