/**
 * Training one model job of an experiment: reuse its checkpoint when it holds the requested epochs, else train
 * (resuming from the last epoch checkpoint) with the spec's optimizer and schedule.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Dataset } from '../../datasets/types';
import { Network } from '../models/network';
import { modelId } from '../models/config';
import { train } from '../training/trainer';
import { defaultOptimizerConfig, OptimizerName } from '../training/optimizers';
import { defaultScheduleConfig, ScheduleName } from '../training/schedules';
import { UserError } from '../util/errors';
import type { ExperimentSpec } from './spec';
import type { ModelJob } from './jobs';

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
  const t = job.spec.train;
  const metaFile = path.join(job.dir, 'model.json');
  if (fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { train?: { epochsDone?: number } };
    if ((meta.train?.epochsDone ?? 0) >= t.epochs) {
      log(`[${step}/${total}] ${job.spec.name}: reusing checkpoint ${job.dir}`);
      return;
    }
  }
  log(`[${step}/${total}] training ${job.spec.name} (${modelId(job.config)}) for ${t.epochs} epochs on ${trainSet.n} images`);
  const net = new Network(job.config);
  try {
    await train(
      net,
      trainSet,
      testSet,
      {
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
      { checkpointDir: job.dir, resume: true, quiet, workers, meta: { dataset: trainSet.name, datasetSource: trainSet.source, data: trainSet.provenance?.status, seed: spec.seed } },
    );
  } finally {
    net.dispose();
  }
  if (t.epochs === 0) throw new UserError(`model '${job.spec.name}': train.epochs is 0, so there is no checkpoint to attack`);
}
