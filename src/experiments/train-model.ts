/**
 * Training the model jobs of an experiment: reuse a checkpoint that holds the requested epochs, else train
 * (resuming from the last epoch checkpoint) with the spec's optimizer and schedule. One model trains in this
 * process (`trainModel`), or up to --workers of them at once, one per worker thread (`trainModelsAtOnce`): a
 * model's training is single-threaded, so on N cores N models train about N times as fast as one after another,
 * with the same weights.
 */
import * as path from 'path';
import type { Dataset } from '../../datasets/types';
import type { SplitsRequest } from '../../datasets/load';
import { Network } from '../models/network';
import { modelId } from '../models/config';
import { train, type TrainConfig, type TrainOptions } from '../training/trainer';
import { defaultOptimizerConfig, OptimizerName } from '../training/optimizers';
import { defaultScheduleConfig, ScheduleName } from '../training/schedules';
import { WorkerPool } from '../parallel/pool';
import type { FitResult, FitTask } from './fit-worker';
import type { ExperimentSpec } from './spec';
import type { ModelJob } from './jobs';
import { checkpointProgress } from './progress';

/** Seconds between the progress lines of a model that trains beside others (its epoch lines always print). */
const AT_ONCE_LOG_EVERY_SEC = 60;

/** Whether the job's checkpoint already holds every requested epoch. */
export function checkpointComplete(job: ModelJob): boolean {
  return (checkpointProgress(job.dir)?.epochsDone ?? 0) >= job.spec.train.epochs;
}

/** The trainer's configuration and options for a model job (the same in this process and in a worker). */
function trainingRequest(job: ModelJob, spec: ExperimentSpec, trainSet: Dataset, workers: number): { train: TrainConfig; options: TrainOptions } {
  const t = job.spec.train;
  return {
    train: {
      epochs: t.epochs,
      batchSize: t.batchSize,
      optimizer: defaultOptimizerConfig(t.optimizer as OptimizerName, {
        ...(t.lr !== undefined ? { lr: t.lr } : {}),
        ...(t.weightDecay !== undefined ? { weightDecay: t.weightDecay } : {}),
        ...(t.momentum !== undefined ? { momentum: t.momentum } : {}),
        nesterov: t.nesterov ?? false,
      }),
      schedule: defaultScheduleConfig(t.schedule as ScheduleName, { epochs: t.epochs }),
      augment: t.augment,
      seed: spec.seed,
      gradShards: t.gradShards,
    },
    options: { checkpointDir: job.dir, resume: true, workers, meta: { dataset: trainSet.name, datasetSource: trainSet.source, data: trainSet.provenance?.status, seed: spec.seed } },
  };
}

export async function trainModel(
  job: ModelJob,
  trainSet: Dataset,
  testSet: Dataset,
  spec: ExperimentSpec,
  quiet: boolean,
  log: (l: string) => void,
  step: number,
  total: number,
  workers: number,
): Promise<void> {
  if (checkpointComplete(job)) {
    log(`[${step}/${total}] ${job.spec.name}: reusing checkpoint ${job.dir}`);
    return;
  }
  const req = trainingRequest(job, spec, trainSet, workers);
  log(`[${step}/${total}] training ${job.spec.name} (${modelId(job.config)}) for ${req.train.epochs} epochs on ${trainSet.n} images`);
  const net = new Network(job.config);
  try {
    await train(net, trainSet, testSet, req.train, { ...req.options, quiet });
  } finally {
    net.dispose();
  }
}

/**
 * Train several model jobs at once, at most `workers` at a time, each on its own worker thread with one thread
 * of compute (a model's gradient shards, if its spec asks for them, run one after another there: the same
 * result). Each prints its progress lines labelled with its name. Jobs whose checkpoint is complete are skipped;
 * with fewer than two left to train this does nothing (`trainModel` trains one in this process). A failing model
 * (bad recipe, NaN loss) stops them all; each keeps its last epoch checkpoint.
 */
export async function trainModelsAtOnce(jobs: readonly ModelJob[], data: SplitsRequest, trainSet: Dataset, spec: ExperimentSpec, workers: number, quiet: boolean, log: (l: string) => void): Promise<void> {
  const todo = jobs.filter((j) => !checkpointComplete(j));
  if (workers < 2 || todo.length < 2) return;
  const tasks: FitTask[] = todo.map((job) => {
    const req = trainingRequest(job, spec, trainSet, 1);
    return { config: job.config, train: req.train, options: { ...req.options, quiet, label: job.spec.name, logEverySec: AT_ONCE_LOG_EVERY_SEC }, data };
  });
  const size = Math.min(workers, todo.length);
  log(`training ${todo.length} models, ${size} at a time on ${size} worker threads: ${todo.map((j) => `${j.spec.name} (${j.spec.train.epochs} epochs)`).join(', ')}`);
  const pool = await WorkerPool.start({ workers: size, kind: 'module', handlerModule: path.join(__dirname, 'fit-worker'), init: null });
  try {
    await pool.run<FitResult>(tasks, (_task, _f, line) => line && log(line), (i, r) => log(`${todo[i].spec.name}: trained ${r.epochsDone} epochs, test accuracy ${(100 * r.testAccuracy).toFixed(1)}%`));
  } finally {
    await pool.close();
  }
}
