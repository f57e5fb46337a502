/**
 * Planning an experiment: the spec's models, its model files and attack jobs, each keyed by the content hash of
 * everything that determines its result (a model file's key includes the hash of its bytes, so a changed file
 * reruns its jobs while a rerun skips what the journal holds), and the attack request of each job. Reads no
 * dataset (only the model files, to hash them), starts no backend, writes nothing (`opulab run --check` prints the
 * same plan, ./plan.ts).
 */
import * as path from 'path';
import type { Dataset } from '../../datasets/types';
import type { EngineName } from '../engine';
import { ModelConfig, modelId } from '../models/config';
import { buildModelConfig } from '../models/build-config';
import { findGradientMode } from '../../defenses/registry';
import { UserError } from '../util/errors';
import type { ExperimentSpec, ModelSpec, AttackSpec, FileModelSpec } from './spec';
import type { ModelFileRef } from './imported';
import { modelFileHash, type ImportOptions } from '../import';
import { contentHash } from './store';
import type { AttackRequest } from './execute';
import { declaredGradientModes, formatGradientModes } from './gradient-modes';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string | undefined): Shard {
  if (!text) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UserError(`bad --shard '${text}': expected i/N with 0 <= i < N, e.g. 0/4`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export interface ModelJob {
  spec: ModelSpec;
  key: string;
  order: number;
  dir: string;
  config: ModelConfig;
}

/** A model file of the spec (never trained): its key is the content hash of the file (and shards) and its options. */
export interface FileModelJob {
  spec: FileModelSpec;
  key: string;
  order: number;
  /** The model id in results: `file:<name>`. */
  id: string;
  ref: ModelFileRef;
}

export interface AttackJob {
  spec: AttackSpec;
  key: string;
  order: number;
  /** Target model names (one for direct attacks; the targets for transfer). */
  models: string[];
  gradient: string;
  samples: number;
}

/** The requested gradient modes that the model's defense declares (defenses/: each defense lists its own). */
function gradientsFor(spec: AttackSpec, config: ModelConfig): string[] {
  const modes = declaredGradientModes(config);
  return (spec.gradients ?? ['natural']).filter((g) => findGradientMode(modes, g) !== undefined);
}

/** The gradient modes a model's defense declares, as users write them (for error messages). */
function declaredModes(config: ModelConfig): string {
  return formatGradientModes(declaredGradientModes(config));
}

/** What planning needs of a dataset (its name, class count and normalization), so a plan can be made without reading it. */
export type DatasetInfo = Pick<Dataset, 'name' | 'numClasses' | 'normalization'>;

export function modelConfigFor(m: ModelSpec, spec: ExperimentSpec, data: DatasetInfo): ModelConfig {
  return buildModelConfig({ ...m, seed: m.seed ?? spec.seed, numClasses: data.numClasses, normalization: data.normalization });
}

/** The import options of a spec's model file entry (the id `file:<name>`). */
export function fileModelRef(m: FileModelSpec): ModelFileRef {
  const options: ImportOptions = { id: `file:${m.name}` };
  if (m.mean) options.mean = [...m.mean];
  if (m.std) options.std = [...m.std];
  if (m.layout) options.layout = m.layout;
  if (m.classes !== undefined) options.classes = m.classes;
  return { path: m.file, options };
}

export interface Plan {
  models: ModelJob[];
  files: FileModelJob[];
  attacks: AttackJob[];
}

export function planJobs(spec: ExperimentSpec, outDir: string, data: DatasetInfo): Plan {
  // Models whose id (architecture, width, defense, training) would collide get their spec name as a label.
  const baseIds = spec.models.map((m) => modelId(modelConfigFor(m, spec, data)));
  const models = spec.models.map((m, order): ModelJob => {
    const collides = baseIds.filter((id) => id === baseIds[order]).length > 1;
    const config = { ...modelConfigFor(m, spec, data), ...(collides ? { label: m.name } : {}) };
    const key = contentHash({ config, train: m.train, dataset: data.name, trainSamples: spec.data.trainSamples ?? null, seed: spec.seed });
    return { spec: m, key, order, config, dir: path.join(outDir, 'checkpoints', `${m.name}-${key}`) };
  });
  const files = (spec.modelFiles ?? []).map((m, i): FileModelJob => {
    const ref = fileModelRef(m);
    // the file's content (and shards) in the key: a changed file reruns its jobs, an unchanged one resumes
    const key = contentHash({ file: modelFileHash(m.file), options: ref.options, dataset: data.name, testSamples: spec.data.testSamples });
    return { spec: m, key, order: models.length + i, id: String(ref.options.id), ref };
  });
  const byName = new Map<string, { key: string; config?: ModelConfig }>([...models.map((m) => [m.spec.name, m] as const), ...files.map((f) => [f.spec.name, { key: f.key }] as const)]);
  const allNames = [...spec.models.map((m) => m.name), ...files.map((f) => f.spec.name)];
  const attacks: AttackJob[] = [];
  spec.attacks.forEach((a, ai) => {
    const samples = a.samples ?? spec.data.attackSamples;
    const targets = a.models ?? allNames.filter((n) => n !== a.source);
    const common = { attack: a, index: ai, samples, testSamples: spec.data.testSamples, evalBatchSize: spec.data.evalBatchSize, dataset: data.name };
    if (a.attack === 'transfer') {
      const keys = [a.source!, ...targets].map((n) => byName.get(n)!.key);
      attacks.push({ spec: a, key: contentHash({ ...common, keys }), order: attacks.length, models: targets, gradient: 'natural', samples });
      return;
    }
    const before = attacks.length;
    for (const name of targets) {
      const m = byName.get(name)!;
      // a model file has its natural gradient only (docs/import.md)
      const grads = m.config ? gradientsFor(a, m.config) : (a.gradients ?? ['natural']).filter((g) => g === 'natural');
      for (const gradient of grads) {
        attacks.push({ spec: a, key: contentHash({ ...common, model: m.key, gradient }), order: attacks.length, models: [name], gradient, samples });
      }
    }
    // A gradient list that fits none of the attack's models would silently run nothing.
    if (attacks.length === before && targets.length) {
      const allowed = targets.map((n) => `${n}: ${byName.get(n)!.config ? declaredModes(byName.get(n)!.config!) : 'natural (a model file)'}`).join('; ');
      throw new UserError(`attacks[${ai}] (${a.label ?? a.attack}): gradients ${JSON.stringify(a.gradients ?? ['natural'])} apply to none of its models; their defenses declare ${allowed}`);
    }
  });
  return { models, files, attacks };
}

/** The attack request of one job (the spec's attack with its parameters, on the job's gradient mode). */
export function requestFor(job: AttackJob, spec: ExperimentSpec, batchSize: number, engine?: EngineName): AttackRequest {
  const a = job.spec;
  return {
    attack: a.attack === 'transfer' ? a.craft ?? 'pgd' : a.attack,
    params: a.params,
    norm: a.norm,
    eps: a.eps,
    epsSpace: a.epsSpace,
    gradient: job.gradient,
    signSurrogate: a.signSurrogate ?? 'ste',
    eot: a.eot ?? 20,
    batchSize,
    seed: spec.seed,
    engine,
  };
}

export function describeJob(job: AttackJob): string {
  const a = job.spec;
  if (a.attack === 'transfer') return `transfer (${a.craft}) ${a.source} -> ${job.models.join(', ')}`;
  const surrogate = a.signSurrogate && a.signSurrogate !== 'ste' ? `+sign-${a.signSurrogate}` : '';
  const gradient = job.gradient !== 'natural' || surrogate ? ` (${job.gradient}${surrogate})` : '';
  return `${a.label ?? a.attack} on ${job.models[0]}${gradient}`;
}
