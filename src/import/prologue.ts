/**
 * The input prologue of an imported model: opulab hands every Classifier NHWC pixels in [0, 1]; a model file
 * takes them normalized per channel ((x - mean) / std, where the user gave a normalization outside the model)
 * and in its own layout (NCHW for a channels-first input). Inside tf.tidy or tf.grad (the small constants it
 * makes are tracked there), so gradients taken through it are in pixel units.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Prologue {
  mean?: readonly number[];
  std?: readonly number[];
  /** Transpose to NCHW. */
  nchw: boolean;
}

export function modelInput(x: tf.Tensor4D, p: Prologue): tf.Tensor4D {
  let input = x;
  if (p.mean) input = tf.sub(input, tf.tensor1d(p.mean as number[]));
  if (p.std) input = tf.div(input, tf.tensor1d(p.std as number[]));
  return p.nchw ? tf.transpose(input, [0, 3, 1, 2]) : input;
}
