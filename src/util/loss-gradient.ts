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

/**
 * The mean per-example loss and mean input gradient of `samples` calls of `call` (each a fresh stochastic pass):
 * EOT's expectation as separate passes (attacks/eot.ts; src/engine/classifier.ts where its one-graph form does not
 * apply). Each call's tensors are disposed once added.
 */
export function meanOfCalls(samples: number, call: () => LossAndGradient): LossAndGradient {
  let lossSum: tf.Tensor1D | null = null;
  let gradSum: tf.Tensor4D | null = null;
  for (let s = 0; s < samples; s++) {
    const r = call();
    // sums start at zero (0 + first), as the running sum always has
    const before: [tf.Tensor1D, tf.Tensor4D] = [lossSum ?? tf.zerosLike(r.loss), gradSum ?? tf.zerosLike(r.grad)];
    const l = tf.add(before[0], r.loss) as tf.Tensor1D;
    const g = tf.add(before[1], r.grad) as tf.Tensor4D;
    tf.dispose([...before, r.loss, r.grad]);
    lossSum = l;
    gradSum = g;
  }
  const out = tf.tidy(() => ({ loss: tf.div(lossSum!, samples) as tf.Tensor1D, grad: tf.div(gradSum!, samples) as tf.Tensor4D }));
  tf.dispose([lossSum!, gradSum!]);
  return out;
}
