/**
 * Per-example attack losses computed from LOGITS (C12: never from probabilities, whose saturation hides the
 * gradient). Every loss is to be MAXIMISED by the attacker; [batch, classes] -> [batch].
 *
 * Untargeted losses take the true labels. Targeted losses take the TARGET labels as `labels` (the attacker
 * passes targets to `Classifier.lossAndGradient`); targeted DLR additionally closes over the true labels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LossFn } from '../src/types';
import { UserError } from '../src/util/errors';
import { tagLoss } from '../src/engine/loss-spec';

export type LossName = 'ce' | 'dlr' | 'cw';
export const LOSS_NAMES: readonly LossName[] = ['ce', 'dlr', 'cw'];

/** A value below any logit, used to exclude entries from a max (exact, unlike subtracting a big constant). */
const EXCLUDED = -1e30;

function labelMask(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(tf.cast(labels, 'int32'), numClasses), 'bool') as tf.Tensor2D;
}

/** z_label per example. Differentiable in the logits. */
function pick(logits: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(logits, tf.cast(mask, 'float32')), 1) as tf.Tensor1D;
}

/** max_{i != label} z_i per example. */
function maxOther(logits: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.max(tf.where(mask, tf.fill(logits.shape, EXCLUDED), logits), 1) as tf.Tensor1D;
}

/**
 * The k largest logits per example, each as a differentiable [batch] tensor. tfjs has no gradient for
 * TopK, so this takes k successive maxima, excluding each arg-max before the next (ArgMax/OneHot have zero
 * gradients, Max routes the gradient to the max entry) — the same values and gradient as sort in PyTorch.
 */
export function topLogits(logits: tf.Tensor2D, k: number): tf.Tensor1D[] {
  const out: tf.Tensor1D[] = [];
  let rest: tf.Tensor2D = logits;
  const numClasses = logits.shape[1];
  for (let j = 0; j < k; j++) {
    out.push(tf.max(rest, 1) as tf.Tensor1D);
    if (j + 1 < k) {
      const mask = tf.cast(tf.oneHot(tf.argMax(rest, 1), numClasses), 'bool') as tf.Tensor2D;
      rest = tf.where(mask, tf.fill(rest.shape, EXCLUDED), rest) as tf.Tensor2D;
    }
  }
  return out;
}

/** Cross-entropy -log softmax(z)_y: the untargeted attack maximises it. */
export const crossEntropyLoss: LossFn = tagLoss(
  (logits, labels) => tf.tidy(() => tf.neg(pick(tf.logSoftmax(logits), labelMask(labels, logits.shape[1]))) as tf.Tensor1D),
  { name: 'ce', targeted: false },
);

/** Targeted cross-entropy: labels are the targets; maximising log softmax(z)_t moves towards the target. */
export const targetedCrossEntropyLoss: LossFn = tagLoss(
  (logits, targets) => tf.tidy(() => pick(tf.logSoftmax(logits), labelMask(targets, logits.shape[1]))),
  { name: 'ce', targeted: true },
);

/** Carlini-Wagner margin max_{i != y} z_i - z_y (positive iff misclassified). */
export const cwMarginLoss: LossFn = tagLoss(
  (logits, labels) =>
    tf.tidy(() => {
      const mask = labelMask(labels, logits.shape[1]);
      return tf.sub(maxOther(logits, mask), pick(logits, mask)) as tf.Tensor1D;
    }),
  { name: 'cw', targeted: false },
);

/** Targeted CW margin z_t - max_{i != t} z_i (positive iff classified as the target). */
export const targetedCwMarginLoss: LossFn = tagLoss(
  (logits, targets) =>
    tf.tidy(() => {
      const mask = labelMask(targets, logits.shape[1]);
      return tf.sub(pick(logits, mask), maxOther(logits, mask)) as tf.Tensor1D;
    }),
  { name: 'cw', targeted: true },
);

/**
 * Difference of Logits Ratio (Croce & Hein 2020, eq. 6): -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3), with
 * z_pi the logits sorted in decreasing order. Shift- and scale-invariant in the logits. Needs >= 3 classes.
 */
export const dlrLoss: LossFn = tagLoss(
  (logits, labels) =>
    tf.tidy(() => {
      if (logits.shape[1] < 3) throw new UserError(`DLR loss needs at least 3 classes, got ${logits.shape[1]}`);
      const mask = labelMask(labels, logits.shape[1]);
      const [z1, , z3] = topLogits(logits, 3);
      const margin = tf.sub(pick(logits, mask), maxOther(logits, mask));
      return tf.neg(tf.div(margin, tf.add(tf.sub(z1, z3), 1e-12))) as tf.Tensor1D;
    }),
  { name: 'dlr', targeted: false },
);

/**
 * Targeted DLR (Croce & Hein 2020, eq. 7): -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2). `labels` passed at
 * call time are the targets t; the true labels y are bound here. Needs >= 4 classes. The caller owns
 * `trueLabels` and must keep it alive while the loss is used.
 */
export function targetedDlrLoss(trueLabels: tf.Tensor1D): LossFn {
  const fn: LossFn = (logits, targets) =>
    tf.tidy(() => {
      if (logits.shape[1] < 4) {
        throw new UserError(`targeted DLR loss needs at least 4 classes, got ${logits.shape[1]}`);
      }
      const n = logits.shape[1];
      const [z1, , z3, z4] = topLogits(logits, 4);
      const zy = pick(logits, labelMask(trueLabels, n));
      const zt = pick(logits, labelMask(targets, n));
      const denom = tf.add(tf.sub(z1, tf.mul(tf.add(z3, z4), 0.5)), 1e-12);
      return tf.neg(tf.div(tf.sub(zy, zt), denom)) as tf.Tensor1D;
    });
  return tagLoss(fn, { name: 'dlr', targeted: true, trueLabels });
}

/**
 * The loss for a named objective. Untargeted: call with true labels. Targeted: call with target labels;
 * `trueLabels` is required for targeted DLR.
 */
export function lossFor(name: LossName | string, targeted: boolean, trueLabels?: tf.Tensor1D): LossFn {
  switch (name) {
    case 'ce':
      return targeted ? targetedCrossEntropyLoss : crossEntropyLoss;
    case 'cw':
      return targeted ? targetedCwMarginLoss : cwMarginLoss;
    case 'dlr':
      if (!targeted) return dlrLoss;
      if (!trueLabels) throw new Error('targeted DLR needs the true labels');
      return targetedDlrLoss(trueLabels);
    default:
      throw new UserError(`unknown attack loss '${name}': expected one of ${LOSS_NAMES.join(', ')}`);
  }
}
