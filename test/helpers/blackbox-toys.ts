/**
 * Toy models for black-box and transfer tests: a fixed linear classifier (true gradients), a wrapper that
 * records every forward call's row count, and a lookup classifier whose prediction is read from a key
 * encoded in the first pixel (for hand-made transfer cases).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossAndGradient, LossFn } from '../../src/types';
import { fillNormal, fillUniform, makeRng } from '../../src/util/rng';

export class ToyLinear implements Classifier {
  readonly stochastic = false;
  readonly normalizationStd = [1];
  readonly gradientMode = 'true';
  readonly W: tf.Tensor2D;
  readonly b: tf.Tensor1D;
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  constructor(
    readonly inputShape: readonly [number, number, number],
    readonly numClasses: number,
    seed: number,
    readonly id = `toy-linear-${seed}`,
  ) {
    const d = inputShape[0] * inputShape[1] * inputShape[2];
    this.weights = fillNormal(makeRng(seed, 'W'), new Float32Array(d * numClasses), 1 / Math.sqrt(d));
    this.bias = fillNormal(makeRng(seed, 'b'), new Float32Array(numClasses), 0.1);
    this.W = tf.tensor2d(this.weights, [d, numClasses]);
    this.b = tf.tensor1d(this.bias);
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.W), this.b) as tf.Tensor2D);
  }
  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    return tf.tidy(() => {
      const f = (xi: tf.Tensor) => tf.sum(loss(this.logits(xi as tf.Tensor4D), labels));
      return { loss: loss(this.logits(x), labels), grad: tf.grad(f)(x) as tf.Tensor4D };
    });
  }
  dispose(): void {
    this.W.dispose();
    this.b.dispose();
  }
}

/** Records the row count of every logits call of the wrapped model (no gradient exposed). */
export class RowRecorder implements Classifier {
  readonly calls: number[] = [];
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic: boolean;
  readonly normalizationStd: readonly number[];
  constructor(private readonly inner: Classifier) {
    this.id = inner.id;
    this.numClasses = inner.numClasses;
    this.inputShape = inner.inputShape;
    this.stochastic = inner.stochastic;
    this.normalizationStd = inner.normalizationStd;
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    this.calls.push(x.shape[0]);
    return this.inner.logits(x);
  }
  totalRows(): number {
    return this.calls.reduce((a, b) => a + b, 0);
  }
}

/**
 * Prediction = table[key] where key = round(first pixel * 100); keys missing from the table predict
 * `fallback`. Logits are one-hot * 10.
 */
export class LookupClassifier implements Classifier {
  readonly stochastic = false;
  readonly normalizationStd = [1];
  constructor(
    readonly id: string,
    readonly inputShape: readonly [number, number, number],
    readonly numClasses: number,
    private readonly table: Map<number, number>,
    private readonly fallback = 0,
  ) {}
  logits(x: tf.Tensor4D): tf.Tensor2D {
    const [n] = x.shape;
    const first = tf.tidy(() => tf.reshape(tf.slice(x, [0, 0, 0, 0], [n, 1, 1, 1]), [n]));
    const keys = first.dataSync();
    first.dispose();
    const out = new Float32Array(n * this.numClasses);
    for (let i = 0; i < n; i++) {
      const cls = this.table.get(Math.round(keys[i] * 100)) ?? this.fallback;
      out[i * this.numClasses + cls] = 10;
    }
    return tf.tensor2d(out, [n, this.numClasses]);
  }
}

/** n random images in [0,1] with the given shape (seeded). */
export function randomImages(n: number, shape: readonly [number, number, number], seed: number): tf.Tensor4D {
  const d = shape[0] * shape[1] * shape[2];
  return tf.tensor4d(fillUniform(makeRng(seed, 'images'), new Float32Array(n * d)), [n, ...shape]);
}

/** Arg-max labels of a model on x (so every example starts correctly classified). */
export function predictedLabels(model: Classifier, x: tf.Tensor4D): Int32Array {
  const p = tf.tidy(() => tf.argMax(model.logits(x), 1));
  const out = Int32Array.from(p.dataSync());
  p.dispose();
  return out;
}
