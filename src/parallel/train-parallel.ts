/**
 * Synchronous data-parallel training step (see shard-step.ts for the micro-batch semantics).
 *
 * Design: the parent owns the authoritative weights and the optimizer. Before each step it writes all parameters
 * (weights + BatchNorm running stats) into one SharedArrayBuffer that every worker replica reads (no per-worker
 * copies); workers return their micro-batches' packed gradients and running stats (transferred, zero-copy); the
 * parent averages them in shard order and takes the one optimizer step. The alternative — every worker applying
 * the averaged gradient with its own optimizer copy — moves the same number of floats (averaged gradients down
 * instead of weights) but duplicates the optimizer work and its state on every thread, so it is not cheaper.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../models/network';
import type { Optimizer } from '../training/optimizers';
import { UserError } from '../util/errors';
import { assignFlat, packTensors, unpackTensors, weightedSum } from './flat';
import { WorkerPool } from './pool';
import { computeShard, replicaParams, ReplicaParams, shardDropoutSeed, shardSizes, ShardResult } from './shard-step';
import type { ShardTask, TrainWorkerInit } from './train-worker';

export interface ShardedTrainingOptions {
  /** Micro-batches per batch (changes the result: BatchNorm statistics are per micro-batch). */
  gradShards: number;
  /** Threads computing the micro-batches (does not change the result). 1 = in this thread. */
  workers: number;
  /** Worker backend (default: this thread's current backend). */
  backend?: string;
}

export interface StepTiming {
  steps: number;
  /** Seconds spent computing micro-batches (in-process) or waiting for the workers. */
  computeSeconds: number;
  /** Seconds spent broadcasting weights, combining gradients and applying the optimizer. */
  syncSeconds: number;
}

export interface TrainStepper {
  step(x: tf.Tensor4D, y: tf.Tensor1D, seed: number, epoch: number, step: number): Promise<{ loss: number; correct: number }>;
  readonly timing: StepTiming;
  close(): Promise<void>;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

class ShardedStepper implements TrainStepper {
  readonly timing: StepTiming = { steps: 0, computeSeconds: 0, syncSeconds: 0 };
  private version = 0;

  constructor(
    private readonly net: Network,
    private readonly optimizer: Optimizer,
    private readonly params: ReplicaParams,
    private readonly shards: number,
    private readonly pool: WorkerPool | null,
    private readonly state: Float32Array | null,
  ) {}

  async step(x: tf.Tensor4D, y: tf.Tensor1D, seed: number, epoch: number, step: number): Promise<{ loss: number; correct: number }> {
    const b = x.shape[0];
    const sizes = shardSizes(b, this.shards);
    const seeds = sizes.map((_, s) => shardDropoutSeed(seed, epoch, step, s, this.shards));
    const t0 = now();
    const results = this.pool ? await this.remote(x, y, sizes, seeds) : this.local(x, y, sizes, seeds);
    const t1 = now();
    const weights = sizes.map((n) => n / b);
    const loss = results.reduce((a, r, s) => a + weights[s] * r.loss, 0);
    const correct = results.reduce((a, r) => a + r.correct, 0);
    const p = this.params;
    assignFlat(p.buffers, p.bufferLayout, weightedSum(results.map((r) => r.buffers), weights));
    if (Number.isFinite(loss)) {
      const grads = unpackTensors(p.trainableLayout, weightedSum(results.map((r) => r.grads), weights));
      const byName = new Map(p.trainable.map((q, i) => [q.name, grads[i]]));
      this.optimizer.apply(new Map(p.trainable.map((q) => [q.name, q.variable])), byName);
      tf.dispose(grads);
    }
    this.timing.steps += 1;
    this.timing.computeSeconds += t1 - t0;
    this.timing.syncSeconds += now() - t1;
    return { loss, correct };
  }

  /** Every micro-batch in this thread, each starting from the step's running stats. */
  private local(x: tf.Tensor4D, y: tf.Tensor1D, sizes: number[], seeds: number[]): ShardResult[] {
    const p = this.params;
    const start = packTensors(p.buffers.map((q) => q.variable), p.bufferLayout);
    const out: ShardResult[] = [];
    let lo = 0;
    sizes.forEach((n, s) => {
      if (s > 0) assignFlat(p.buffers, p.bufferLayout, start);
      const xs = tf.slice(x, [lo, 0, 0, 0], [n, -1, -1, -1]);
      const ys = tf.slice(y, [lo], [n]);
      try {
        out.push(computeShard(this.net, p, xs, ys, seeds[s]));
      } finally {
        tf.dispose([xs, ys]);
      }
      lo += n;
    });
    return out;
  }

  /** Broadcast the parameters through shared memory, then let the pool compute the micro-batches. */
  private async remote(x: tf.Tensor4D, y: tf.Tensor1D, sizes: number[], seeds: number[]): Promise<ShardResult[]> {
    const p = this.params;
    packTensors(p.all.map((q) => q.variable), p.allLayout, this.state!);
    this.version += 1;
    const pixels = x.dataSync() as Float32Array;
    const labels = Int32Array.from(y.dataSync());
    const per = x.shape[1] * x.shape[2] * x.shape[3];
    const tasks: ShardTask[] = [];
    let lo = 0;
    sizes.forEach((n, s) => {
      tasks.push({
        version: this.version,
        pixels: pixels.slice(lo * per, (lo + n) * per),
        shape: [n, x.shape[1], x.shape[2], x.shape[3]],
        labels: labels.slice(lo, lo + n),
        dropoutSeed: seeds[s],
      });
      lo += n;
    });
    return this.pool!.run<ShardResult>(tasks);
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/**
 * A stepper for `gradShards` micro-batches over `workers` threads, or null when both are 1 (the caller then uses
 * the plain trainStep, bit-for-bit the unsharded trainer).
 */
export async function createTrainStepper(net: Network, optimizer: Optimizer, opts: ShardedTrainingOptions): Promise<TrainStepper | null> {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new UserError(`bad workers ${opts.workers}: expected an integer >= 1`);
  if (!Number.isInteger(opts.gradShards) || opts.gradShards < 1) throw new UserError(`bad gradShards ${opts.gradShards}: expected an integer >= 1`);
  if (opts.workers === 1 && opts.gradShards === 1) return null;
  const params = replicaParams(net);
  if (opts.workers === 1) return new ShardedStepper(net, optimizer, params, opts.gradShards, null, null);
  const shared = new SharedArrayBuffer(params.allLayout.size * 4);
  const init: TrainWorkerInit = { config: net.config, state: shared, stateSize: params.allLayout.size };
  // More threads than micro-batches would idle.
  const pool = await WorkerPool.start({ workers: Math.min(opts.workers, opts.gradShards), kind: 'train', init, backend: opts.backend });
  return new ShardedStepper(net, optimizer, params, opts.gradShards, pool, new Float32Array(shared));
}
