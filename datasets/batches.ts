/**
 * Mini-batches as tensors: float32 pixels in [0, 1], NHWC (src/types.ts convention), int32 labels.
 * Only one batch's tensors exist at a time; the caller disposes them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng } from '../src/util/rng';
import { UserError } from '../src/util/errors';
import { AugmentOptions, augmentImage, checkAugmentOptions } from './augment';
import { Dataset } from './types';

export interface BatchOptions {
  batchSize: number;
  /** Visit examples in a seeded random order (else in dataset order). */
  shuffle: boolean;
  /** Seeds the order and the augmentation; use a different seed per epoch (e.g. deriveSeed(seed, 'epoch', e)). */
  seed: number;
  /** Training augmentation; none when absent. */
  augment?: AugmentOptions;
  /** Skip the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
}

export interface Batch {
  /** [b, h, w, c] float32 pixels in [0, 1]. */
  x: tf.Tensor4D;
  /** [b] int32 labels. */
  y: tf.Tensor1D;
  /** Dataset indices of the batch's examples. */
  indices: Int32Array;
}

function imageSize(ds: Dataset): number {
  return ds.height * ds.width * ds.channels;
}

/** Pixels of the listed examples as float32 [0, 1], without augmentation. */
function plainPixels(ds: Dataset, indices: ArrayLike<number>): Float32Array {
  const size = imageSize(ds);
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const s = indices[k] * size;
    const d = k * size;
    for (let p = 0; p < size; p++) out[d + p] = ds.images[s + p] / 255;
  }
  return out;
}

function checkIndices(ds: Dataset, indices: ArrayLike<number>): void {
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) {
      throw new UserError(`index ${i} is out of range for dataset ${ds.name}: expected an integer in [0, ${ds.n - 1}]`);
    }
  }
}

/** Seeded batches over the dataset; each example appears exactly once per call (minus a dropped tail). */
export function* iterateBatches(ds: Dataset, opts: BatchOptions): Generator<Batch> {
  const { batchSize, shuffle, seed } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UserError(`batch size ${batchSize} is not valid: expected a positive integer`);
  }
  if (!Number.isInteger(seed)) throw new UserError(`batch seed ${seed} is not valid: expected an integer`);
  if (opts.augment) checkAugmentOptions(opts.augment);
  const order = shuffle ? makeRng(seed, 'batch-order').permutation(ds.n) : Int32Array.from({ length: ds.n }, (_, i) => i);
  const augRng = makeRng(seed, 'augment');
  const size = imageSize(ds);
  const geom = { height: ds.height, width: ds.width, channels: ds.channels };
  for (let start = 0; start < ds.n; start += batchSize) {
    const b = Math.min(batchSize, ds.n - start);
    if (b < batchSize && opts.dropLast) return;
    const indices = order.slice(start, start + b);
    let pixels: Float32Array;
    if (opts.augment) {
      pixels = new Float32Array(b * size);
      for (let k = 0; k < b; k++) augmentImage(ds.images, indices[k] * size, geom, opts.augment, augRng, pixels, k * size);
    } else {
      pixels = plainPixels(ds, indices);
    }
    const labels = new Int32Array(b);
    for (let k = 0; k < b; k++) labels[k] = ds.labels[indices[k]];
    yield {
      x: tf.tensor4d(pixels, [b, ds.height, ds.width, ds.channels], 'float32'),
      y: tf.tensor1d(labels, 'int32'),
      indices,
    };
  }
}

/** Tensors for an explicit index list (no augmentation); the caller disposes them. */
export function takeTensors(ds: Dataset, indices: ArrayLike<number>): { x: tf.Tensor4D; y: tf.Tensor1D } {
  if (indices.length === 0) throw new UserError(`takeTensors on dataset ${ds.name}: expected at least one index`);
  checkIndices(ds, indices);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) labels[k] = ds.labels[indices[k]];
  return {
    x: tf.tensor4d(plainPixels(ds, indices), [indices.length, ds.height, ds.width, ds.channels], 'float32'),
    y: tf.tensor1d(labels, 'int32'),
  };
}

/** Number of examples per class, indexed by label. */
export function perClassCounts(ds: Pick<Dataset, 'numClasses' | 'labels'>): number[] {
  const counts = new Array<number>(ds.numClasses).fill(0);
  for (let i = 0; i < ds.labels.length; i++) counts[ds.labels[i]]++;
  return counts;
}
