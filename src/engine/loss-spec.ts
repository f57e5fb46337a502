/**
 * What the native engine needs to know of an attack loss to put it inside its graph: its name, whether it is
 * targeted, and (targeted DLR) the true labels it closes over. Loss functions are tagged where they are defined
 * (attacks/losses.ts); an untagged LossFn is one the engine cannot express, and the tfjs path computes it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LossFn } from '../types';

export type EngineLossName = 'ce' | 'cw' | 'dlr';

export interface LossSpec {
  name: EngineLossName;
  targeted: boolean;
  /** Targeted DLR only: the true labels (the call's labels are the targets). */
  trueLabels?: tf.Tensor1D;
}

const specs = new WeakMap<LossFn, LossSpec>();

/** Record what `fn` computes; returns `fn`. */
export function tagLoss(fn: LossFn, spec: LossSpec): LossFn {
  specs.set(fn, spec);
  return fn;
}

/** The spec of a tagged loss, or undefined. */
export function lossSpecOf(fn: LossFn): LossSpec | undefined {
  return specs.get(fn);
}

/** A short key of a loss spec (graph cache key; the true labels are a graph input, not part of the key). */
export function lossKey(spec: LossSpec): string {
  return `${spec.name}${spec.targeted ? '-targeted' : ''}`;
}
