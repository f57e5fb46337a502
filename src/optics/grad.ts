/** A typed wrapper over tf.customGrad for one-input functions (tfjs types its inputs as a loose union). */
import * as tf from '@tensorflow/tfjs-core';

export interface UnaryGradResult<O extends tf.Tensor> {
  value: O;
  gradFunc: (dy: O, saved: tf.Tensor[]) => tf.Tensor;
}

/** f(x) with a custom backward: `fn` returns the value and dL/dx given dL/dvalue. */
export function unaryCustomGrad<I extends tf.Tensor, O extends tf.Tensor>(
  fn: (x: I, save: tf.GradSaveFunc) => UnaryGradResult<O>,
): (x: I) => O {
  type Fn = Parameters<typeof tf.customGrad<O>>[0];
  const wrapped: Fn = (...args) => fn(args[0] as I, args[1] as tf.GradSaveFunc);
  const g = tf.customGrad<O>(wrapped);
  return (x: I) => g(x);
}
