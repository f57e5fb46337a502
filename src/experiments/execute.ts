/**
 * Running one attack job: a model (checkpoint), an attack with its parameters, a list of epsilons, a gradient
 * mode, the test images to attack. Shared by `opulab attack`, `opulab run` and `opulab demo`.
 */
import type { Classifier } from '../types';
import type { RunRecord, PerSampleRecord } from '../results/schema';
import { Dataset, DatasetName } from '../../datasets/types';
import { takeTensors } from '../../datasets/batches';
import { resolveAttack } from '../plugins/attack';
import { attackFactsByName } from '../../attacks/registry';
import { writePerSample } from '../../attacks/evaluate';
import { evaluateAttackParallel, type ChunkStore, type EvalJob } from '../parallel/evaluate-parallel';
import type { ImportOptions } from '../import';
import type { WorkerPool } from '../parallel/pool';
import { attackedClassifier } from '../parallel/attacked-classifier';
import { parseEpsList, toPixelEps } from '../../attacks/eps';
import { craftTransferSet, evaluateTransfer, loadTransferSet, saveTransferSet } from '../../attacks/transfer';
import { UserError } from '../util/errors';
import { classifierFor } from '../models/classifier';
import { Network } from '../models/network';
import { modelId, ModelConfig } from '../models/config';
import { announceEngine, EngineName, releaseEngine, threadsPerWorker, withEngine } from '../engine';

export interface AttackRequest {
  attack: string;
  params: Record<string, unknown>;
  norm: 'linf' | 'l2';
  eps: (string | number)[];
  epsSpace: 'pixel' | 'normalized';
  gradient: string;
  signSurrogate: string;
  /** EOT gradient samples when the model is stochastic (0 = off). */
  eot: number;
  batchSize: number;
  seed: number;
  /** Engine of evaluation and attack steps (default tfjs). */
  engine?: EngineName;
}

export interface JobOutput {
  runs: RunRecord[];
  perSample: PerSampleRecord[][];
}

/**
 * The attack's parameters with the norm filled in (for attacks that take one) and an
 * absolute `stepSize`, which users give in the units of their eps, converted to pixels like the eps.
 */
export function attackParams(req: AttackRequest, std: readonly number[]): Record<string, unknown> {
  const p: Record<string, unknown> = { ...req.params };
  if (typeof p.stepSize === 'number' || typeof p.stepSize === 'string') {
    p.stepSize = toPixelEps(parseEpsList([String(p.stepSize)]), req.epsSpace, std)[0];
  }
  // an attack that runs in one norm takes no norm parameter (its facts say so; a plugin file not loaded yet gets it)
  if (p.norm === undefined && (attackFactsByName(req.attack)?.takesNorm ?? true)) p.norm = req.norm;
  return p;
}

export function epsInPixels(req: Pick<AttackRequest, 'eps' | 'epsSpace'>, std: readonly number[]): { pixel: number[]; inSpace: number[] } {
  const inSpace = parseEpsList(req.eps.map(String));
  return { pixel: toPixelEps(inSpace, req.epsSpace, std), inSpace };
}

/** Where the attacked images come from: a dataset split by name (workers load it themselves). */
export interface DataRef {
  name: DatasetName;
  dataDir?: string;
  /** Synthetic set seed. */
  seed?: number;
}

/** The model an evaluation job attacks: a checkpoint directory, or a model file (src/import) read with its options. */
export type JobModel = { checkpointDir: string } | { modelFile: { path: string; options: ImportOptions } };

/**
 * The EvalJob (src/parallel/evaluate-parallel.ts) of one attack request on a model, for checkpoints and model
 * files alike: eps and step size converted to pixels with the model's normalization std, the data by reference.
 */
export function buildEvalJob(model: JobModel, id: string, std: readonly number[], data: DataRef, indices: number[], req: AttackRequest, workers: number): EvalJob {
  const { pixel, inSpace } = epsInPixels(req, std);
  const file = 'modelFile' in model ? model.modelFile : undefined;
  return {
    checkpointDir: file ? '' : (model as { checkpointDir: string }).checkpointDir,
    ...(file ? { modelFile: file } : {}),
    gradientMode: req.gradient,
    signSurrogate: req.signSurrogate,
    // a model file is deterministic: no EOT
    eot: file ? 0 : req.eot,
    attack: req.attack,
    attackParams: attackParams(req, std),
    epsPixel: pixel,
    epsSpace: req.epsSpace,
    epsInSpace: inSpace,
    dataset: { name: data.name, dataDir: data.dataDir, split: 'test', indices, seed: data.seed },
    batchSize: req.batchSize,
    seed: req.seed,
    modelId: id,
    engine: req.engine,
    engineThreads: threadsPerWorker(workers),
  };
}

/**
 * Attack a checkpoint: fixed chunks of `batchSize` images, each with its own seed, evaluated in-process
 * (workers = 1) or on worker threads; the numbers are the same for any worker count. With `chunks`, chunks saved
 * earlier are reused and new ones saved (./chunk-store.ts).
 */
export async function runAttackOnModel(
  checkpointDir: string,
  config: ModelConfig,
  data: DataRef,
  indices: number[],
  req: AttackRequest,
  workers: number,
  onProgress?: (fraction: number, message?: string) => void,
  pool?: WorkerPool,
  chunks?: ChunkStore,
): Promise<JobOutput> {
  if (req.engine) announceEngine(config, req.engine);
  const job = buildEvalJob({ checkpointDir }, modelId(config), config.normalization.std, data, indices, req, workers);
  const out = await evaluateAttackParallel(job, { workers, onProgress, pool, chunks });
  return { runs: out.map((o) => o.run), perSample: out.map((o) => o.perSample) };
}

/**
 * Transfer: craft adversarial examples on `source` with a white-box attack, score them on every target, on all
 * images and on the images every compared model classifies correctly (the reference's common-correct mask).
 */
export async function runTransfer(
  source: Network | Classifier,
  targets: (Network | Classifier)[],
  data: Dataset,
  indices: number[],
  req: AttackRequest,
  sets: { save?: string; load?: string } = {},
): Promise<JobOutput> {
  // a Classifier (a model file, src/import) is used as it is: its gradient is its natural one
  const src = source instanceof Network ? attackedClassifier(source, { ...req, gradient: 'natural' }) : source;
  const std = source instanceof Network ? source.config.normalization.std : source.normalizationStd;
  const attack = resolveAttack(req.attack, attackParams(req, std));
  const { pixel, inSpace } = epsInPixels(req, std);
  const { x, y } = takeTensors(data, indices);
  const labels = Int32Array.from(y.dataSync());
  y.dispose();
  try {
    // A saved set is reused as it is (its manifest records the source, attack, eps and image indices).
    const set = sets.load
      ? loadTransferSet(sets.load)
      : await craftTransferSet(src, attack, x, labels, pixel, { seed: req.seed }, { indices, epsSpace: req.epsSpace, epsInSpace: inSpace });
    if (sets.load && set.manifest.indices.join(',') !== indices.join(',')) {
      throw new UserError(`transfer set '${sets.load}' holds ${set.manifest.indices.length} images that are not the ${indices.length} requested: use the same --samples as when it was saved`);
    }
    if (sets.save) saveTransferSet(sets.save, set);
    const targetClassifiers = targets.map((t) => (t instanceof Network ? withEngine(t, classifierFor(t, 'natural'), 'natural', 'ste', req.engine ?? 'tfjs') : t));
    const ev = await evaluateTransfer(set, x, src, targetClassifiers, { batchSize: req.batchSize });
    const perSample: PerSampleRecord[][] = ev.runs.map((run) => {
      const e = set.manifest.eps.findIndex((p) => Math.abs(p - run.eps) < 1e-12);
      const clean = ev.cleanPredictions[run.model];
      const adv = ev.adversarialPredictions[run.model][e];
      return Array.from(labels, (label, i): PerSampleRecord => ({
        index: indices[i],
        label,
        cleanPrediction: clean[i],
        adversarialPrediction: adv[i],
        success: adv[i] !== label,
        eps: run.eps,
      }));
    });
    for (const r of ev.runs) r.params = { ...r.params, seed: req.seed, craft: req.attack };
    return { runs: ev.runs, perSample };
  } finally {
    x.dispose();
    for (const n of [source, ...targets]) if (n instanceof Network) releaseEngine(n);
  }
}

/** Write each run's per-sample records as JSONL under `dir/runs/`, setting run.perSample (relative to dir). */
export function attachPerSample(dir: string, firstIndex: number, out: JobOutput): void {
  out.runs.forEach((run, i) => {
    run.perSample = writePerSample(dir, firstIndex + i, out.perSample[i]);
  });
}
