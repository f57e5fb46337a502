/**
 * Micro-batch ("gradient shard") training steps. A batch is split into a FIXED number of micro-batches; each is
 * forwarded on its own, so BatchNorm normalises with that micro-batch's statistics (like ghost batch norm,
 * Hoffer et al. 2017), gradients of the micro-batches' mean losses are averaged (weighted by micro-batch size, so
 * the objective stays the batch-mean loss) and ONE optimizer step is taken. BatchNorm running statistics: every
 * micro-batch starts from the same running stats and the results are averaged with the same weights, i.e.
 * running = (1 - m) running + m * avg_s(batch stats_s).
 *
 * The micro-batch computation (`computeShard`) is the same function in-process and in worker threads, and the
 * combination runs in shard order in float64, so the step does not depend on how shards are spread over threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../models/network';
import type { NamedParam } from '../models/params';
import { computeGradients } from '../training/step';
import { deriveSeed } from '../util/rng';
import { UserError } from '../util/errors';
import { FlatLayout, flatLayout, packTensors } from './flat';

export interface ShardResult {
  /** Mean loss of the micro-batch. */
  loss: number;
  correct: number;
  count: number;
  /** Gradients of the trainable parameters, packed in store order. */
  grads: Float32Array;
  /** Non-trainable state (BatchNorm running stats) after this micro-batch's forward, packed in store order. */
  buffers: Float32Array;
}

/** A network's parameters split the way shard steps need them (store order in each list). */
export interface ReplicaParams {
  all: NamedParam[];
  trainable: NamedParam[];
  buffers: NamedParam[];
  allLayout: FlatLayout;
  trainableLayout: FlatLayout;
  bufferLayout: FlatLayout;
}

export function replicaParams(net: Network): ReplicaParams {
  const all = net.store.list();
  const trainable = all.filter((p) => p.trainable);
  const buffers = all.filter((p) => !p.trainable);
  return { all, trainable, buffers, allLayout: flatLayout(all), trainableLayout: flatLayout(trainable), bufferLayout: flatLayout(buffers) };
}

export function checkGradShards(gradShards: number, batchSize: number): void {
  if (!Number.isInteger(gradShards) || gradShards < 1) throw new UserError(`bad gradShards ${gradShards}: expected an integer >= 1`);
  if (gradShards > batchSize) throw new UserError(`gradShards ${gradShards} exceeds the batch size ${batchSize}: expected at most one shard per example`);
}

/** Sizes of the `shards` micro-batches of a batch of `b` (the first b % shards get one more example). */
export function shardSizes(b: number, shards: number): number[] {
  if (shards > b) throw new UserError(`cannot split a batch of ${b} into ${shards} gradient shards: expected gradShards <= batch size`);
  const base = Math.floor(b / shards);
  return Array.from({ length: shards }, (_, s) => base + (s < b % shards ? 1 : 0));
}

/**
 * Dropout seed of micro-batch `shard`: (seed, epoch, step, shard). With a single shard it is the plain trainer's
 * seed deriveSeed(seed, 'dropout', epoch, step), so gradShards = 1 reproduces unsharded training exactly.
 */
export function shardDropoutSeed(seed: number, epoch: number, step: number, shard: number, shards: number): number {
  return shards === 1 ? deriveSeed(seed, 'dropout', epoch, step) : deriveSeed(seed, 'dropout', epoch, step, 'shard', shard);
}

/** Forward + backward of one micro-batch with the training gradient path; no optimizer step. */
export function computeShard(net: Network, params: ReplicaParams, x: tf.Tensor4D, y: tf.Tensor1D, dropoutSeed: number): ShardResult {
  const { loss, correct, grads } = computeGradients(net, x, y, dropoutSeed);
  try {
    const packed = packTensors(params.trainable.map((p) => grads.get(p.name)!), params.trainableLayout);
    const buffers = packTensors(params.buffers.map((p) => p.variable), params.bufferLayout);
    return { loss, correct, count: x.shape[0], grads: packed, buffers };
  } finally {
    tf.dispose([...grads.values()]);
  }
}
