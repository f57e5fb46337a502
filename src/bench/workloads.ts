/**
 * The benchmark's model and workloads, mirroring /work/shared/bench/torch_peer.py: CIFAR VGG-16 features
 * (conv3x3 pad 1 + BatchNorm + ReLU, channels max(8, round(v * width)), maxpool 2x2), flatten, Dense(->10).
 * The model is the project's own (src/models/vgg.ts, src/models/layers.ts), so the numbers are those of
 * the code that trains and gets attacked.
 *   forward     eval-mode logits of a batch, no gradient
 *   train       one SGD step (momentum 0.9, lr 0.01) on mean cross-entropy, train-mode BatchNorm
 *   input_grad  eval-mode gradient of mean cross-entropy w.r.t. the input batch (one attack step)
 */
import * as tf from '@tensorflow/tfjs-core';
import { Dense } from '../models/layers';
import { ParamStore } from '../models/params';
import { VggFeatures, vggPlan } from '../models/vgg';
import { makeRng } from '../util/rng';
import { UserError } from '../util/errors';

export const WORKLOADS = ['forward', 'train', 'input_grad'] as const;
export type Workload = (typeof WORKLOADS)[number];

export function parseWorkloads(spec: string): Workload[] {
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new UserError(`bad --workloads '${spec}': expected a comma list of ${WORKLOADS.join(', ')}`);
  for (const n of names) {
    if (!(WORKLOADS as readonly string[]).includes(n)) {
      throw new UserError(`unknown workload '${n}': expected one of ${WORKLOADS.join(', ')}`);
    }
  }
  return names as Workload[];
}

/** VGG-16 + Dense(->10) with its parameters, a fixed synthetic batch and an SGD-momentum optimizer. */
export class BenchModel {
  readonly store = new ParamStore();
  readonly features: VggFeatures;
  readonly head: Dense;
  readonly x: tf.Tensor4D;
  readonly labels: tf.Tensor2D;
  private readonly optimizer = tf.train.momentum(0.01, 0.9);

  constructor(readonly width: number, readonly batch: number, seed: number, readonly classes = 10) {
    if (!Number.isInteger(batch) || batch < 1) throw new UserError(`bad batch ${batch}: expected a positive integer`);
    const rng = makeRng(seed, 'bench', width);
    this.features = new VggFeatures(this.store, 16, width, rng);
    this.head = new Dense(this.store, 'classifier', this.features.outFeatures, classes, rng);
    this.x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', rng.nextSeed()) as tf.Tensor4D;
    const y = Array.from({ length: batch }, () => rng.int(classes));
    this.labels = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), classes), 'float32') as tf.Tensor2D);
  }

  logits(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return this.head.apply(this.features.apply(x, { training }));
  }

  loss(x: tf.Tensor4D, training: boolean): tf.Scalar {
    return tf.losses.softmaxCrossEntropy(this.labels, this.logits(x, training)) as tf.Scalar;
  }

  /** Run one workload to completion (the result is read back, so the timing includes all of it). */
  run(workload: Workload): void {
    if (workload === 'forward') {
      // (a block body: returning the read-back array would make tidy walk every element looking for tensors)
      tf.tidy(() => {
        this.logits(this.x, false).dataSync();
      });
    } else if (workload === 'train') {
      const loss = this.optimizer.minimize(() => this.loss(this.x, true), true, this.store.trainable());
      loss?.dataSync();
      loss?.dispose();
    } else {
      tf.tidy(() => {
        tf.grad((x: tf.Tensor) => this.loss(x as tf.Tensor4D, false))(this.x).dataSync();
      });
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    this.store.dispose();
    this.x.dispose();
    this.labels.dispose();
  }
}

/** Same timing rule as the PyTorch peer: one warm-up call, then the best of `repeats` calls (seconds). */
export function bestOf(fn: () => void, repeats: number): number {
  if (!Number.isInteger(repeats) || repeats < 1) throw new UserError(`bad repeats ${repeats}: expected a positive integer`);
  fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

/** bestOf for asynchronous workloads (data-parallel runs over worker threads). */
export async function bestOfAsync(fn: () => Promise<void>, repeats: number): Promise<number> {
  if (!Number.isInteger(repeats) || repeats < 1) throw new UserError(`bad repeats ${repeats}: expected a positive integer`);
  await fn();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

export interface BenchRecord {
  impl: string;
  /** A model workload, or attack throughput (square: queries/s, pgd: image-steps/s in img_per_s). */
  workload: Workload | 'square' | 'pgd';
  width: number;
  batch: number;
  threads: number;
  img_per_s: number;
  ms_per_batch: number;
  /** Arithmetic rate achieved (2 FLOPs per multiply-add), where known. */
  gflop_s?: number;
}

export function benchRecord(
  impl: string,
  workload: BenchRecord['workload'],
  width: number,
  batch: number,
  threads: number,
  seconds: number,
): BenchRecord {
  return {
    impl,
    workload,
    width,
    batch,
    threads,
    img_per_s: Math.round((batch / seconds) * 100) / 100,
    ms_per_batch: Math.round(seconds * 1000 * 10) / 10,
  };
}

/** Multiply-adds of one image's forward pass through the bench model (3x3 convs on 32x32 inputs + the Dense). */
export function benchForwardMacs(width: number, classes = 10): number {
  let hw = 32;
  let c = 3;
  let macs = 0;
  for (const v of vggPlan(16, width)) {
    if (v === 'M') hw /= 2;
    else {
      macs += hw * hw * v * c * 9;
      c = v;
    }
  }
  return macs + c * classes;
}

/**
 * GFLOP/s of a bench record (2 FLOPs per multiply-add of the direct convolutions; input_grad = forward + input
 * backward, train = 3x forward): for graphs with Winograd layers, the rate of equivalent work.
 */
export function gflops(workload: string, width: number, imgPerSec: number): number | undefined {
  const factor = workload === 'forward' ? 1 : workload === 'input_grad' ? 2 : workload === 'train' ? 3 : undefined;
  return factor === undefined ? undefined : (2 * benchForwardMacs(width) * factor * imgPerSec) / 1e9;
}
