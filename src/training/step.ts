/**
 * One training step's arithmetic for bp / dfa / hybrid (docs/method.md §3): the forward with the model's training
 * gradient path, one `tf.variableGrads` call, the optimizer step. The epoch loop (./trainer.ts) and the sharded
 * steps of the worker threads (src/parallel/shard-step.ts) both run these, so they sit below src/parallel
 * (docs/architecture.md §1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Network, GradientPath, TRAINING_GRADIENT_PATHS } from '../models/network';
import { DfaSession } from '../models/dfa';
import type { Optimizer } from './optimizers';

/** The gradient path a training method uses. */
export function trainingGradientPath(net: Network): GradientPath {
  if (net.config.training !== 'bp') return TRAINING_GRADIENT_PATHS.dfa;
  // Plain backprop through an optical head needs surrogates: a simulation-only oracle (STE sign, true matrix).
  return TRAINING_GRADIENT_PATHS.bpOracle;
}

/** Mean cross-entropy on logits. */
export function meanCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

/**
 * Forward + backward of one batch with the model's training gradient path (DFA feedback points for dfa/hybrid).
 * Returns the mean loss, the number of correct predictions (same forward) and the gradient of every trainable
 * parameter by name; the caller disposes the gradients.
 */
export function computeGradients(
  net: Network,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  dropoutSeed: number,
): { loss: number; correct: number; grads: Map<string, tf.Tensor> } {
  const named = net.store.list().filter((p) => p.trainable);
  const session = net.feedback ? new DfaSession(net.feedback) : undefined;
  const gradient = trainingGradientPath(net);
  let correct: tf.Scalar | null = null;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const logits = net.forward(x, { training: true, gradient, dfaSession: gradient.dfa ? session : undefined, dropoutSeed });
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(y, 'int32')), 'float32'))) as tf.Scalar;
      return meanCrossEntropy(logits, y) as tf.Scalar;
    }, named.map((p) => p.variable));
    const byName = new Map<string, tf.Tensor>();
    for (const p of named) byName.set(p.name, grads[p.variable.name]);
    const loss = value.dataSync()[0];
    value.dispose();
    const c = (correct as tf.Scalar | null)?.dataSync()[0] ?? 0;
    return { loss, correct: c, grads: byName };
  } finally {
    if (correct) (correct as tf.Scalar).dispose();
    session?.dispose();
  }
}

/** One optimizer step (skipped when the loss is not finite). Returns the batch's mean loss and number correct. */
export function trainStep(
  net: Network,
  optimizer: Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  dropoutSeed: number,
): { loss: number; correct: number } {
  const vars = new Map(net.store.list().filter((p) => p.trainable).map((p) => [p.name, p.variable]));
  const { loss, correct, grads } = computeGradients(net, x, y, dropoutSeed);
  if (Number.isFinite(loss)) optimizer.apply(vars, grads);
  tf.dispose([...grads.values()]);
  return { loss, correct };
}
