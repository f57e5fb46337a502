/**
 * Training loop for bp / dfa / hybrid (docs/method.md §3): one `tf.variableGrads` call per step over the network's
 * forward with the training gradient path — DFA feedback points inject e·B where backprop is cut, layers above
 * them get true backprop. Per-epoch evaluation, LR schedule, atomic checkpoint every epoch, resume, NaN guard.
 *
 * Determinism: batch order, augmentation and dropout masks derive from (seed, epoch, step), so a resumed run
 * continues exactly as an uninterrupted one would.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Dataset } from '../../datasets/types';
import { iterateBatches } from '../../datasets/batches';
import { defaultAugmentation } from '../../datasets/augment';
import { deriveSeed } from '../util/rng';
import { UserError } from '../util/errors';
import { progress, type ProgressStream } from '../util/progress';
import type { Network } from '../models/network';
import { Optimizer, OptimizerConfig } from './optimizers';
import { LrSchedule, ScheduleConfig } from './schedules';
import { saveCheckpoint, readCheckpointMeta, readCheckpointTensors, assignTensors } from './checkpoint';
import { meanCrossEntropy, trainStep } from './step';
// Parallel/sharded steps (src/parallel, a layer below this loop and above ./step); used only when gradShards or
// workers > 1.
import { checkGradShards } from '../parallel/shard-step';
import { createTrainStepper } from '../parallel/train-parallel';

export { computeGradients, meanCrossEntropy, trainingGradientPath, trainStep } from './step';
export { loadNetwork } from './checkpoint';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  augment: boolean;
  seed: number;
  /** Limit the number of training images (first N). */
  trainSamples?: number;
  /** Test images used for per-epoch evaluation (first N). */
  evalSamples?: number;
  /**
   * Micro-batches per batch (default 1): each gets its own BatchNorm statistics, gradients are averaged, one
   * optimizer step (src/parallel/shard-step.ts). Changes results; TrainOptions.workers does not.
   */
  gradShards?: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  imgPerSec: number;
  seconds: number;
}

export interface TrainResult {
  history: EpochRecord[];
  epochsDone: number;
  testAccuracy: number;
  imgPerSec: number;
}

/** A view of the first `n` examples (no copy). */
export function firstExamples(ds: Dataset, n?: number): Dataset {
  if (n === undefined || n >= ds.n) return ds;
  const size = ds.height * ds.width * ds.channels;
  return { ...ds, n, images: ds.images.subarray(0, n * size), labels: ds.labels.subarray(0, n) };
}

/** Eval-mode loss and accuracy over a dataset (first `limit` images). */
export function evaluate(net: Network, ds: Dataset, batchSize = 256, limit?: number): { loss: number; accuracy: number; n: number } {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for (const batch of iterateBatches(firstExamples(ds, limit), { batchSize, shuffle: false, seed: 0 })) {
    const [l, c] = tf.tidy(() => {
      const logits = net.predictLogits(batch.x);
      const ce = meanCrossEntropy(logits, batch.y);
      const corr = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(batch.y, 'int32')), 'float32'));
      return [ce.dataSync()[0], corr.dataSync()[0]];
    });
    const b = batch.x.shape[0];
    lossSum += l * b;
    correct += c;
    n += b;
    tf.dispose([batch.x, batch.y]);
  }
  return { loss: lossSum / Math.max(1, n), accuracy: correct / Math.max(1, n), n };
}

export interface TrainOptions {
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir when one exists. */
  resume?: boolean;
  quiet?: boolean;
  /** Extra training metadata recorded in the checkpoint (dataset name, command line...). */
  meta?: Record<string, unknown>;
  /** Worker threads computing the gradient shards (default 1; same result for any count). */
  workers?: number;
  /** Prefix of the progress lines (a model's name, when several train at once). */
  label?: string;
  /** Seconds between progress lines when not on a TTY (default 10). */
  logEverySec?: number;
  /** Where progress lines go (default stderr). */
  stream?: ProgressStream;
}

function saveTraining(
  dir: string,
  net: Network,
  optimizer: Optimizer,
  schedule: LrSchedule,
  cfg: TrainConfig,
  history: EpochRecord[],
  meta: Record<string, unknown>,
): void {
  const tensors = [
    ...net.store.list().map((p) => ({ name: p.name, tensor: p.variable as tf.Tensor })),
    ...optimizer.namedState(),
  ];
  const last = history[history.length - 1];
  saveCheckpoint(
    dir,
    net.config,
    tensors,
    {
      ...meta,
      config: cfg,
      epochsDone: history.length,
      history,
      optimizer: optimizer.meta(),
      schedule: schedule.state(),
    },
    last ? { testAccuracy: last.testAccuracy, testLoss: last.testLoss, trainAccuracy: last.trainAccuracy } : {},
  );
}

export async function train(net: Network, trainSet: Dataset, testSet: Dataset, cfg: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 0) throw new UserError(`bad epochs ${cfg.epochs}: expected a non-negative integer`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize <= 0) throw new UserError(`bad batch size ${cfg.batchSize}: expected a positive integer`);
  const optimizer = new Optimizer(cfg.optimizer);
  const schedule = new LrSchedule(cfg.schedule, cfg.optimizer.lr);
  let history: EpochRecord[] = [];
  const ckpt = opts.checkpointDir;
  const linePrefix = opts.label ? `${opts.label}: ` : '';
  if (ckpt && opts.resume && fs.existsSync(path.join(ckpt, 'model.json'))) {
    const meta = readCheckpointMeta(ckpt);
    // Resuming into a different model would silently mix two experiments (fixed matrices come from the seed).
    const differing = Object.keys({ ...meta.config, ...net.config }).filter(
      (k) => JSON.stringify((meta.config as unknown as Record<string, unknown>)[k]) !== JSON.stringify((net.config as unknown as Record<string, unknown>)[k]),
    );
    if (differing.length) {
      throw new UserError(
        `checkpoint '${ckpt}' holds a different model (${differing.map((k) => `${k}: ${JSON.stringify((meta.config as unknown as Record<string, unknown>)[k])}`).join(', ')}); ` +
          'use the same options to resume, or another --out',
      );
    }
    const tensors = readCheckpointTensors(ckpt, meta);
    assignTensors(ckpt, tensors, net.store.list());
    const train = meta.train as { history?: EpochRecord[]; optimizer?: { step: number; lr: number }; schedule?: { best: number | null; badEpochs: number } };
    if (train.optimizer) optimizer.restore(train.optimizer, tensors);
    if (train.schedule) schedule.restore(train.schedule);
    history = train.history ?? [];
    tf.dispose([...tensors.values()]);
    if (!opts.quiet) (opts.stream ?? process.stderr).write(`${linePrefix}resuming from ${ckpt} after epoch ${history.length}\n`);
  }
  const nTrain = Math.min(trainSet.n, cfg.trainSamples ?? trainSet.n);
  const stepsPerEpoch = Math.floor(nTrain / cfg.batchSize) || 1;
  const augment = cfg.augment ? defaultAugmentation(trainSet.name) : undefined;
  // Sharded / multi-worker steps (src/parallel); null when gradShards = workers = 1 (plain trainStep below).
  checkGradShards(cfg.gradShards ?? 1, Math.min(cfg.batchSize, nTrain));
  // One micro-batch cannot be split across threads: then the plain in-process step is the same computation, cheaper.
  const shards = cfg.gradShards ?? 1;
  const stepper = await createTrainStepper(net, optimizer, { gradShards: shards, workers: shards > 1 ? (opts.workers ?? 1) : 1 });
  try {
    for (let epoch = history.length + 1; epoch <= cfg.epochs; epoch++) {
      const bar = progress(`${linePrefix}epoch ${epoch}/${cfg.epochs}`, stepsPerEpoch, { quiet: opts.quiet, logEverySec: opts.logEverySec, stream: opts.stream });
      const t0 = Date.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      for (const batch of iterateBatches(firstExamples(trainSet, nTrain), {
        batchSize: cfg.batchSize,
        shuffle: true,
        seed: deriveSeed(cfg.seed, 'shuffle', epoch),
        augment,
        dropLast: nTrain >= cfg.batchSize,
      })) {
        const r = stepper
          ? await stepper.step(batch.x, batch.y, cfg.seed, epoch, step)
          : trainStep(net, optimizer, batch.x, batch.y, deriveSeed(cfg.seed, 'dropout', epoch, step));
        const b = batch.x.shape[0];
        tf.dispose([batch.x, batch.y]);
        if (!Number.isFinite(r.loss)) {
          throw new UserError(
            `training loss became ${r.loss} at epoch ${epoch} step ${step + 1} (lr ${optimizer.lr}); ` +
              (ckpt && history.length ? `last good checkpoint kept at ${ckpt} (epoch ${history.length})` : 'no checkpoint was written') +
              '; lower the learning rate',
          );
        }
        lossSum += r.loss * b;
        correct += r.correct;
        seen += b;
        step += 1;
        bar.update(step, `loss ${(lossSum / seen).toFixed(3)} acc ${((100 * correct) / seen).toFixed(1)}%`);
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      const ev = evaluate(net, testSet, 256, cfg.evalSamples);
      if (!Number.isFinite(ev.loss) || !Number.isFinite(lossSum)) {
        // The weights diverged during this epoch (a finite batch loss can still leave NaN weights behind).
        throw new UserError(
          `training diverged in epoch ${epoch} (test loss ${ev.loss}, lr ${optimizer.lr}); ` +
            (ckpt && history.length ? `last good checkpoint kept at ${ckpt} (epoch ${history.length})` : 'no checkpoint was written') +
            '; lower the learning rate',
        );
      }
      const record: EpochRecord = {
        epoch,
        trainLoss: lossSum / Math.max(1, seen),
        trainAccuracy: correct / Math.max(1, seen),
        testLoss: ev.loss,
        testAccuracy: ev.accuracy,
        lr: optimizer.lr,
        imgPerSec: seen / Math.max(1e-9, trainSeconds),
        seconds: (Date.now() - t0) / 1000,
      };
      history.push(record);
      optimizer.lr = schedule.afterEpoch(epoch, optimizer.lr, ev.loss);
      bar.done(
        `train loss ${record.trainLoss.toFixed(3)} acc ${(100 * record.trainAccuracy).toFixed(1)}% | ` +
          `test loss ${ev.loss.toFixed(3)} acc ${(100 * ev.accuracy).toFixed(1)}% | lr ${record.lr.toPrecision(3)} | ${record.imgPerSec.toFixed(1)} img/s`,
      );
      if (ckpt) saveTraining(ckpt, net, optimizer, schedule, cfg, history, opts.meta ?? {});
    }
  } finally {
    await stepper?.close();
    optimizer.dispose();
  }
  const last = history[history.length - 1];
  const imgPerSec = history.length ? history.reduce((a, h) => a + h.imgPerSec, 0) / history.length : 0;
  return { history, epochsDone: history.length, testAccuracy: last?.testAccuracy ?? NaN, imgPerSec };
}
