/**
 * Planning an experiment: the spec's models and attack jobs, each keyed by the content hash of everything that
 * determines its result (so a rerun skips what the journal holds), and the attack request of each job. Reads no
 * data, starts no backend, writes nothing (`opulab run --check` prints the same plan, ./plan.ts).
 */
import * as path from 'path';
import type { Dataset } from '../../datasets/types';
import type { EngineName } from '../engine';
import { ModelConfig, modelId } from '../models/config';
import { buildModelConfig } from '../models/build-config';
import { findGradientMode } from '../../defenses/registry';
import { UserError } from '../util/errors';
import type { ExperimentSpec, ModelSpec, AttackSpec } from './spec';
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

export function planJobs(spec: ExperimentSpec, outDir: string, data: DatasetInfo): { models: ModelJob[]; attacks: AttackJob[] } {
  // Models whose id (architecture, width, defense, training) would collide get their spec name as a label.
  const baseIds = spec.models.map((m) => modelId(modelConfigFor(m, spec, data)));
  const models = spec.models.map((m, order): ModelJob => {
    const collides = baseIds.filter((id) => id === baseIds[order]).length > 1;
    const config = { ...modelConfigFor(m, spec, data), ...(collides ? { label: m.name } : {}) };
    const key = contentHash({ config, train: m.train, dataset: data.name, trainSamples: spec.data.trainSamples ?? null, seed: spec.seed });
    return { spec: m, key, order, config, dir: path.join(outDir, 'checkpoints', `${m.name}-${key}`) };
  });
  const byName = new Map(models.map((m) => [m.spec.name, m]));
  const attacks: AttackJob[] = [];
  spec.attacks.forEach((a, ai) => {
    const samples = a.samples ?? spec.data.attackSamples;
    const targets = a.models ?? spec.models.map((m) => m.name).filter((n) => n !== a.source);
    const common = { attack: a, index: ai, samples, testSamples: spec.data.testSamples, evalBatchSize: spec.data.evalBatchSize, dataset: data.name };
    if (a.attack === 'transfer') {
      const keys = [a.source!, ...targets].map((n) => byName.get(n)!.key);
      attacks.push({ spec: a, key: contentHash({ ...common, keys }), order: attacks.length, models: targets, gradient: 'natural', samples });
      return;
    }
    const before = attacks.length;
    for (const name of targets) {
      const m = byName.get(name)!;
      for (const gradient of gradientsFor(a, m.config)) {
        attacks.push({ spec: a, key: contentHash({ ...common, model: m.key, gradient }), order: attacks.length, models: [name], gradient, samples });
      }
    }
    // A gradient list that fits none of the attack's models would silently run nothing.
    if (attacks.length === before && targets.length) {
      const allowed = targets.map((n) => `${n}: ${declaredModes(byName.get(n)!.config)}`).join('; ');
      throw new UserError(`attacks[${ai}] (${a.label ?? a.attack}): gradients ${JSON.stringify(a.gradients ?? ['natural'])} apply to none of its models; their defenses declare ${allowed}`);
    }
  });
  return { models, attacks };
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
  return `${a.label ?? a.attack} on ${job.models[0]}${job.gradient !== 'natural' ? ` (${job.gradient})` : ''}`;
}
