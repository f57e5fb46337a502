/**
 * results.json model records: the defense part, the same from `opulab run`, `attack` and `transfer`, and the whole
 * record of a trained experiment model.
 */
import * as path from 'path';
import type { Network } from '../models/network';
import { modelId } from '../models/config';
import type { DefenseRecord } from '../../defenses/types';
import type { ModelRecord } from '../results/schema';
import type { ModelJob } from './jobs';
import { gradientModesOf } from '../models/classifier';

export interface DefenseFields {
  /** The defense's name: a built-in ('optical') or a plugin's own name ('bit-depth-noise'). */
  defense: string;
  /** Where it comes from (built-in, or the file with its sha256), its parameters and the built-in head under it. */
  defenseInfo: DefenseRecord;
  stochastic: boolean;
  /**
   * The gradient modes the model's defense declares for it (`bpda-*` ones exist only where a stage has no usable
   * derivative, so a model without them is differentiable end to end: check C10).
   */
  gradientModes: string[];
  /**
   * The declared modes that use what the defender keeps secret, the true transmission matrix of the model's OPU
   * (`bpda-true`, and `true` through it): an upper bound on an attacker, not an attack an outsider can run.
   */
  oracleGradientModes: string[];
}

export function defenseFields(net: Network): DefenseFields {
  const modes = gradientModesOf(net);
  return {
    defense: net.defense.name,
    defenseInfo: net.defense.record(),
    stochastic: net.stochastic,
    gradientModes: modes.map((m) => m.name),
    oracleGradientModes: net.opu ? modes.filter((m) => m.path.opu === 'true').map((m) => m.name) : [],
  };
}

/** What the model's checkpoint (model.json `train`) says of its training. */
export interface TrainingMeta {
  epochsDone: unknown;
  history: unknown;
}

/** The results.json record of an experiment's model: its config, defense, training and clean accuracy. */
export function modelRecord(job: ModelJob, net: Network, ev: { accuracy: number; n: number }, trained: TrainingMeta, outDir: string): ModelRecord {
  return {
    id: modelId(job.config),
    name: job.spec.name,
    architecture: job.config.architecture,
    width: job.config.width,
    ...defenseFields(net),
    training: job.config.training,
    optimizer: job.spec.train.optimizer,
    cleanAccuracy: ev.accuracy,
    n: ev.n,
    normalizationStd: job.config.normalization.std,
    opuIn: job.config.opuIn,
    opuOut: job.config.opuOut,
    opuMode: job.config.opuMode,
    checkpoint: path.relative(outDir, job.dir),
    train: { ...job.spec.train, epochsDone: trained.epochsDone, history: trained.history },
  };
}
