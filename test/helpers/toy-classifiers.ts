/**
 * Tiny classifiers for attack tests: logits = flatten(x) W + b with TRUE gradients, and a stochastic
 * variant (seeded Gaussian input noise drawn per call, like camera noise) whose gradient varies per call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossAndGradient, LossFn } from '../../src/types';
import { fillNormal, fillUniform, makeRng } from '../../src/util/rng';

export interface LinearSpec {
  inputShape: [number, number, number];
  numClasses: number;
  /** Row-major [d, classes]; random U[-1,1) from `seed` when absent. */
  weights?: number[];
  bias?: number[];
  seed?: number;
  id?: string;
  normalizationStd?: number[];
}

export class LinearClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic: boolean = false;
  readonly normalizationStd: readonly number[];
  readonly gradientMode: string = 'true';
  readonly W: tf.Tensor2D;
  readonly b: tf.Tensor1D;
  /** Number of lossAndGradient calls (tests count EOT samples with it). */
  gradientCalls = 0;

  constructor(spec: LinearSpec) {
    this.id = spec.id ?? 'toy-linear';
    this.numClasses = spec.numClasses;
    this.inputShape = spec.inputShape;
    this.normalizationStd = spec.normalizationStd ?? [1];
    const d = spec.inputShape[0] * spec.inputShape[1] * spec.inputShape[2];
    const w = spec.weights ?? Array.from(fillUniform(makeRng(spec.seed ?? 0, 'W'), new Float32Array(d * spec.numClasses), -1, 1));
    this.W = tf.tensor2d(w, [d, spec.numClasses]);
    this.b = tf.tensor1d(spec.bias ?? new Array<number>(spec.numClasses).fill(0));
  }

  /** Input noise for one call (none for the deterministic model). */
  protected noise(_shape: number[]): tf.Tensor | null {
    return null;
  }

  protected logitsWith(x: tf.Tensor4D, noise: tf.Tensor | null): tf.Tensor2D {
    const xn = noise ? tf.add(x, noise) : x;
    return tf.add(tf.matMul(tf.reshape(xn, [x.shape[0], -1]), this.W), this.b) as tf.Tensor2D;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsWith(x, this.noise(x.shape)));
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    this.gradientCalls++;
    return tf.tidy(() => {
      const noise = this.noise(x.shape);
      const f = (xi: tf.Tensor) => tf.sum(loss(this.logitsWith(xi as tf.Tensor4D, noise), labels));
      const grad = tf.grad(f)(x) as tf.Tensor4D;
      return { loss: loss(this.logitsWith(x, noise), labels), grad };
    });
  }

  dispose(): void {
    this.W.dispose();
    this.b.dispose();
  }
}

/** logits = flatten(x + n) W + b with n ~ N(0, noiseStd^2) drawn fresh (seeded) at every call. */
export class NoisyLinearClassifier extends LinearClassifier {
  override readonly stochastic = true;
  private calls = 0;

  constructor(spec: LinearSpec & { noiseStd: number; noiseSeed: number }) {
    super({ id: 'toy-noisy-linear', ...spec });
    this.noiseStd = spec.noiseStd;
    this.noiseSeed = spec.noiseSeed;
  }

  private readonly noiseStd: number;
  private readonly noiseSeed: number;

  protected override noise(shape: number[]): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = fillNormal(makeRng(this.noiseSeed, 'noise', this.calls++), new Float32Array(size), this.noiseStd);
    return tf.tensor(v, shape);
  }
}

/** A random batch in [0,1]^(n x h x w x c), seeded. */
export function randomImages(n: number, shape: readonly [number, number, number], seed: number, lo = 0, hi = 1): tf.Tensor4D {
  const size = n * shape[0] * shape[1] * shape[2];
  return tf.tensor4d(fillUniform(makeRng(seed, 'images'), new Float32Array(size), lo, hi), [n, ...shape]);
}
