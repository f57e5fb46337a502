/** Losses, projection and eps helpers of the white-box suite. */
import * as tf from '@tensorflow/tfjs-core';
import {
  crossEntropyLoss,
  cwMarginLoss,
  dlrLoss,
  lossFor,
  targetedCrossEntropyLoss,
  targetedCwMarginLoss,
  targetedDlrLoss,
  topLogits,
} from '../attacks/losses';
import { normalizeL2, perExampleNorm, projectL2, projectLinf, randomStart } from '../attacks/projection';
import {
  formatEps,
  normalizedToPixel,
  parseEps,
  parseEpsList,
  parseEpsSpace,
  perChannelPixelEps,
  pixelToNormalized,
  toPixelEps,
} from '../attacks/eps';
import { UserError } from '../src/util/errors';
import { makeRng } from '../src/util/rng';
import { initBackend } from '../src/backend';

beforeAll(async () => {
  await initBackend('cpu', true);
});

function lossValues(fn: (z: tf.Tensor2D, l: tf.Tensor1D) => tf.Tensor1D, logits: number[][], labels: number[]): number[] {
  return tf.tidy(() => Array.from(fn(tf.tensor2d(logits), tf.tensor1d(labels, 'int32')).dataSync()));
}

describe('losses on logits', () => {
  test('cross-entropy and its targeted form match the formula', () => {
    const ce = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const [a, b] = lossValues(crossEntropyLoss, [[1, 2, 3], [1, 2, 3]], [0, 2]);
    expect(a).toBeCloseTo(ce - 1, 5);
    expect(b).toBeCloseTo(ce - 3, 5);
    const [t] = lossValues(targetedCrossEntropyLoss, [[1, 2, 3]], [1]);
    expect(t).toBeCloseTo(2 - ce, 5);
  });

  test('CW margin', () => {
    expect(lossValues(cwMarginLoss, [[3, 1, 2, 0]], [0])[0]).toBeCloseTo(-1, 6);
    expect(lossValues(cwMarginLoss, [[3, 1, 2, 0]], [1])[0]).toBeCloseTo(2, 6);
    expect(lossValues(targetedCwMarginLoss, [[3, 1, 2, 0]], [2])[0]).toBeCloseTo(-1, 6);
  });

  test('DLR (Croce & Hein 2020 eq. 6 and 7) by hand', () => {
    // sorted 3,2,1,0: denominator z1 - z3 = 3 - 1 = 2
    const [y0, y1] = lossValues(dlrLoss, [[3, 1, 2, 0], [3, 1, 2, 0]], [0, 1]);
    expect(y0).toBeCloseTo(-(3 - 2) / 2, 6);
    expect(y1).toBeCloseTo(-(1 - 3) / 2, 6);
    // targeted: -(z_y - z_t) / (z1 - (z3 + z4)/2) with y = 0, t = 1: -(3-1)/(3-0.5)
    const t = tf.tidy(() => {
      const trueLabels = tf.tensor1d([0], 'int32');
      return targetedDlrLoss(trueLabels)(tf.tensor2d([[3, 1, 2, 0]]), tf.tensor1d([1], 'int32')).dataSync()[0];
    });
    expect(t).toBeCloseTo(-2 / 2.5, 6);
  });

  test('DLR is invariant to shifting and scaling the logits', () => {
    const a = lossValues(dlrLoss, [[0.3, -1.2, 2.2, 0.9, 0.1]], [3])[0];
    const b = lossValues(dlrLoss, [[0.3 * 7 + 5, -1.2 * 7 + 5, 2.2 * 7 + 5, 0.9 * 7 + 5, 0.1 * 7 + 5]], [3])[0];
    expect(b).toBeCloseTo(a, 5);
  });

  test('topLogits returns the sorted values; DLR gradient matches finite differences', () => {
    const z = [[0.3, -1.2, 2.2, 0.9, 0.1]];
    const tops = tf.tidy(() => topLogits(tf.tensor2d(z), 4).map((t) => t.dataSync()[0]));
    expect(tops).toEqual([2.2, 0.9, 0.3, 0.1].map((v) => Math.fround(v)));
    const labels = [3];
    const analytic = tf.tidy(() =>
      Array.from(tf.grad((l: tf.Tensor) => tf.sum(dlrLoss(l as tf.Tensor2D, tf.tensor1d(labels, 'int32'))))(tf.tensor2d(z)).dataSync()),
    );
    const h = 1e-3;
    for (let k = 0; k < 5; k++) {
      const up = z[0].slice();
      const dn = z[0].slice();
      up[k] += h;
      dn[k] -= h;
      const fd = (lossValues(dlrLoss, [up], labels)[0] - lossValues(dlrLoss, [dn], labels)[0]) / (2 * h);
      expect(analytic[k]).toBeCloseTo(fd, 2);
    }
  });

  test('bad loss name is a UserError; DLR with 2 classes is refused', () => {
    expect(() => lossFor('hinge', false)).toThrow(UserError);
    expect(() => lossFor('hinge', false)).toThrow(/hinge/);
    expect(() => lossValues(dlrLoss, [[1, 2]], [0])).toThrow(UserError);
  });
});

describe('projection', () => {
  test('L-inf projection clips to the box and the pixel range', () => {
    const out = tf.tidy(() =>
      Array.from(projectLinf(tf.tensor4d([0.9, 0.0, 0.5, 1.5], [1, 1, 2, 2]), tf.tensor4d([0.5, 0.05, 0.5, 0.98], [1, 1, 2, 2]), 0.1).dataSync()),
    );
    [0.6, 0.0, 0.5, 1.0].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  test('L2 projection is exact: radial scaling onto the ball, identity inside', () => {
    const x0 = [0.5, 0.5, 0.5, 0.5];
    const delta = [0.3, -0.4, 0, 0]; // norm 0.5
    const eps = 0.25;
    const out = tf.tidy(() =>
      Array.from(projectL2(tf.tensor4d(x0.map((v, i) => v + delta[i]), [1, 2, 2, 1]), tf.tensor4d(x0, [1, 2, 2, 1]), eps).dataSync()),
    );
    x0.forEach((v, i) => expect(out[i]).toBeCloseTo(v + delta[i] * 0.5, 6));
    const inside = tf.tidy(() =>
      Array.from(projectL2(tf.tensor4d([0.55, 0.5, 0.45, 0.5], [1, 2, 2, 1]), tf.tensor4d(x0, [1, 2, 2, 1]), eps).dataSync()),
    );
    [0.55, 0.5, 0.45, 0.5].forEach((v, i) => expect(inside[i]).toBeCloseTo(v, 6));
  });

  test('L2 projection is the nearest point of the ball (vs random feasible points)', () => {
    const rng = makeRng(3, 'l2-nearest');
    const d = 6;
    const x0 = Array.from({ length: d }, () => 0.5);
    const x = Array.from({ length: d }, () => 0.5 + rng.range(-0.4, 0.4));
    const eps = 0.2;
    const p = tf.tidy(() => Array.from(projectL2(tf.tensor4d(x, [1, 1, d, 1]), tf.tensor4d(x0, [1, 1, d, 1]), eps).dataSync()));
    const dist = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
    expect(dist(p, x0)).toBeLessThanOrEqual(eps + 1e-6);
    const dp = dist(p, x);
    for (let t = 0; t < 200; t++) {
      const dir = Array.from({ length: d }, () => rng.normal());
      const r = eps * Math.pow(rng.uniform(), 1 / d) / Math.sqrt(dir.reduce((s, v) => s + v * v, 0));
      const q = x0.map((v, i) => v + dir[i] * r);
      expect(dist(q, x)).toBeGreaterThanOrEqual(dp - 1e-6);
    }
  });

  test('norms, L2 normalisation, seeded random start inside the ball', () => {
    const t = tf.tensor4d([3, -4, 0, 0, 1, 1, 1, -1], [2, 2, 2, 1]);
    expect(Array.from(perExampleNorm(t, 'l2').dataSync())).toEqual([5, 2]);
    expect(Array.from(perExampleNorm(t, 'linf').dataSync())).toEqual([4, 1]);
    const n = normalizeL2(t);
    expect(Array.from(perExampleNorm(n, 'l2').dataSync()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([1, 1]);
    const x0 = tf.fill([3, 4, 4, 3], 0.5) as tf.Tensor4D;
    for (const norm of ['linf', 'l2'] as const) {
      const a = randomStart(norm, x0, 0.1, 11);
      const b = randomStart(norm, x0, 0.1, 11);
      const c = randomStart(norm, x0, 0.1, 12);
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
      const norms = perExampleNorm(tf.sub(a, x0) as tf.Tensor4D, norm).dataSync();
      norms.forEach((v) => expect(v).toBeLessThanOrEqual(0.1 + 1e-6));
      norms.forEach((v) => expect(v).toBeGreaterThan(0));
      tf.dispose([a, b, c]);
    }
    tf.dispose([t, n, x0]);
  });
});

describe('eps parsing and spaces', () => {
  test('parses decimals, fractions and lists', () => {
    expect(parseEps('8/255')).toBeCloseTo(8 / 255, 12);
    expect(parseEps('0.03')).toBe(0.03);
    expect(parseEps(' 1e-3 ')).toBe(0.001);
    expect(parseEps('0')).toBe(0);
    expect(parseEpsList('0,1/255,2/255')).toEqual([0, 1 / 255, 2 / 255]);
    expect(parseEpsList(['8/255', 0.5])).toEqual([8 / 255, 0.5]);
    expect(parseEpsSpace('normalized')).toBe('normalized');
  });

  test.each(['-1', 'abc', '1/0', '8/', '', '1/2/3', 'NaN', 'Infinity'])('bad eps %p is a UserError naming it', (s) => {
    expect(() => parseEps(s)).toThrow(UserError);
    expect(() => parseEps(s)).toThrow(`'${s}'`);
  });

  test('bad lists and spaces', () => {
    expect(() => parseEpsList('')).toThrow(UserError);
    expect(() => parseEpsList('0.1,x')).toThrow(/'x'/);
    expect(() => parseEpsList([-0.1])).toThrow(/-0.1/);
    expect(() => parseEpsSpace('logit')).toThrow(/'logit'/);
    expect(() => normalizedToPixel(0.1, [0.5, 0])).toThrow(UserError);
  });

  test('CIFAR-10: normalized 0.05 is 6.4/255 pixel (std 0.5), round trip', () => {
    const std = [0.5, 0.5, 0.5];
    expect(normalizedToPixel(0.05, std) * 255).toBeCloseTo(6.375, 10);
    expect(pixelToNormalized(normalizedToPixel(0.03, std), std)).toBeCloseTo(0.03, 12);
    expect(toPixelEps([0, 0.01, 0.05], 'normalized', std)).toEqual([0, 0.005, 0.025]);
    expect(toPixelEps([8 / 255], 'pixel', std)).toEqual([8 / 255]);
  });

  test('per-channel std: the scalar pixel eps uses max(std), so it covers every channel budget', () => {
    const std = [0.267, 0.256, 0.276];
    const scalar = normalizedToPixel(0.05, std);
    expect(scalar).toBeCloseTo(0.05 * 0.276, 12);
    const perChannel = perChannelPixelEps(0.05, std);
    perChannel.forEach((v, i) => expect(v).toBeCloseTo(0.05 * std[i], 12));
    perChannel.forEach((v) => expect(v).toBeLessThanOrEqual(scalar));
  });

  test('formatEps', () => {
    expect(formatEps(8 / 255)).toBe('8/255');
    expect(formatEps(0.5)).toBe('0.5');
    expect(formatEps(0)).toBe('0');
  });
});
