/**
 * Central finite differences of one image's loss, one input coordinate at a time (the 8 coordinates of largest
 * gradient and 8 random ones), against a classifier's gradient: the loss read from the classifier's forward (ONNX
 * Runtime where it runs), the gradient from its lossAndGradient. One coordinate at a time keeps most ReLU kinks
 * out of the difference quotient; a per-example loss keeps float32 rounding far below it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossFn } from '../../src/types';
import { lossFor } from '../../attacks/losses';
import { makeRng } from '../../src/util/rng';

export function expectGradientMatchesFd(c: Classifier, x: tf.Tensor4D, labels: tf.Tensor1D, h = 1e-2, loss: LossFn = lossFor('ce', false)): void {
  const { loss: l0, grad } = c.lossAndGradient!(x, labels, loss);
  const g = grad.dataSync();
  const base = x.dataSync();
  const per = x.size / x.shape[0];
  const rng = makeRng(9, 'fd');
  const byMagnitude = Array.from(g.keys()).sort((i, j) => Math.abs(g[j]) - Math.abs(g[i]));
  const coords = [...byMagnitude.slice(0, 8), ...Array.from({ length: 8 }, () => Math.floor(rng.range(0, g.length)))];
  const lossAt = (i: number, delta: number): number => {
    const v = Float32Array.from(base);
    v[i] += delta;
    return tf.tidy(() => loss(c.logits(tf.tensor4d(v, x.shape)), labels).dataSync()[Math.floor(i / per)]);
  };
  for (const i of coords) {
    // a kink (ReLU, max-pool tie) within h of x bends one quotient; a wrong gradient misses at every step size
    const err = Math.min(...[h, h / 3, h / 10].map((d) => Math.abs((lossAt(i, d) - lossAt(i, -d)) / (2 * d) - g[i])));
    expect(err).toBeLessThanOrEqual(2e-2 * Math.abs(g[i]) + 2e-4);
  }
  tf.dispose([l0, grad]);
}
