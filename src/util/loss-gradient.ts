/**
 * The per-example loss and its input gradient through tfjs autodiff, the one way every tfjs-differentiated
 * Classifier answers `lossAndGradient` (src/types.ts): the gradient of the summed per-example losses of
 * `forward(x)`, and those losses kept out of the gradient scope and handed back as a tensor the caller's scope
 * tracks (so a caller's tf.tidy disposes it). Losses are per example, so the sum's gradient is each example's.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossAndGradient, LossFn } from '../types';

export function lossAndInputGradient(forward: (x: tf.Tensor4D) => tf.Tensor2D, x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
  let perExample: tf.Tensor1D | null = null;
  const grad = tf.tidy(() =>
    tf.grad((xx: tf.Tensor) => {
      const l = loss(forward(xx as tf.Tensor4D), labels);
      perExample = tf.keep(tf.clone(l));
      return tf.sum(l);
    })(x),
  ) as tf.Tensor4D;
  const kept = perExample as unknown as tf.Tensor1D;
  const lossValues = tf.clone(kept);
  kept.dispose();
  return { loss: lossValues, grad };
}
