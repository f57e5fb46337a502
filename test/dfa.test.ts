import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { DfaSession, FeedbackMatrix, stopGradient } from '../src/models/dfa';

beforeAll(async () => {
  await initBackend('cpu', true);
});

describe('DFA feedback point and logits tap', () => {
  it('B is uniform in [-1,1)/sqrt(size), seeded, and columns are prefixes', () => {
    const a = new FeedbackMatrix(3, 8, 42);
    const b = new FeedbackMatrix(3, 8, 42);
    const c = new FeedbackMatrix(3, 8, 43);
    const da = a.matrix.arraySync();
    expect(da).toEqual(b.matrix.arraySync());
    expect(da).not.toEqual(c.matrix.arraySync());
    const flat = da.flat();
    expect(Math.max(...flat.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
    const cols = a.columns(5);
    expect(cols.arraySync()).toEqual(da.map((r) => r.slice(0, 5)));
    [a, b, c, cols].forEach((t) => ('dispose' in t ? t.dispose() : undefined));
  });

  it('hand-computed 2-layer case: true gradient above, e·B below', () => {
    // x:[2,3] -> h = relu(x W1) [2,4] -> FB -> logits = h W2 [2,2] -> mean CE
    const x = tf.tensor2d([
      [1, -2, 0.5],
      [0.3, 0.1, -1],
    ]);
    const W1 = tf.variable(tf.tensor2d([
      [0.2, -0.1, 0.4, 0.3],
      [-0.3, 0.2, 0.1, -0.2],
      [0.5, 0.1, -0.4, 0.2],
    ]));
    const W2 = tf.variable(tf.tensor2d([
      [0.1, -0.2],
      [0.3, 0.4],
      [-0.5, 0.2],
      [0.2, 0.1],
    ]));
    const labels = tf.oneHot(tf.tensor1d([1, 0], 'int32'), 2);
    const fbm = new FeedbackMatrix(2, 4, 7);
    const session = new DfaSession(fbm);
    const { grads } = tf.variableGrads(() => {
      const h = tf.relu(tf.matMul(x, W1));
      const logits = session.tap(tf.matMul(session.feedbackPoint(h), W2));
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, [W1, W2]);

    // By hand (JS arrays)
    const xa = x.arraySync();
    const w1 = W1.arraySync();
    const w2 = W2.arraySync();
    const B = fbm.matrix.arraySync();
    const y = labels.arraySync() as number[][];
    const pre = xa.map((r) => w1[0].map((_, j) => r.reduce((s, v, i) => s + v * w1[i][j], 0)));
    const h = pre.map((r) => r.map((v) => Math.max(0, v)));
    const logits = h.map((r) => w2[0].map((_, k) => r.reduce((s, v, j) => s + v * w2[j][k], 0)));
    const e = logits.map((r, n) => {
      const m = Math.max(...r);
      const ex = r.map((v) => Math.exp(v - m));
      const z = ex.reduce((a, b) => a + b, 0);
      return ex.map((v, k) => (v / z - y[n][k]) / 2);
    });
    const dW2 = w2.map((row, j) => row.map((_, k) => h.reduce((s, hr, n) => s + hr[j] * e[n][k], 0)));
    const eB = e.map((r) => B[0].map((_, j) => r.reduce((s, v, k) => s + v * B[k][j], 0)));
    const dPre = eB.map((r, n) => r.map((v, j) => (pre[n][j] > 0 ? v : 0)));
    const dW1 = w1.map((row, i) => row.map((_, j) => xa.reduce((s, xr, n) => s + xr[i] * dPre[n][j], 0)));

    const gW1 = grads[W1.name].arraySync() as number[][];
    const gW2 = grads[W2.name].arraySync() as number[][];
    gW2.forEach((r, j) => r.forEach((v, k) => expect(v).toBeCloseTo(dW2[j][k], 5)));
    gW1.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(dW1[i][j], 5)));
    // And it is NOT the true backprop gradient for W1 (which would use W2^T instead of B).
    const trueUp = e.map((r) => w2.map((row) => row.reduce((s, v, k) => s + v * r[k], 0)));
    const dW1true = w1.map((row, i) => row.map((_, j) => xa.reduce((s, xr, n) => s + xr[i] * (pre[n][j] > 0 ? trueUp[n][j] : 0), 0)));
    const diff = gW1.flat().reduce((s, v, i) => s + Math.abs(v - dW1true.flat()[i]), 0);
    expect(diff).toBeGreaterThan(1e-3);
    session.dispose();
    tf.dispose([x, W1, W2, labels, ...Object.values(grads)]);
    fbm.dispose();
  });

  it('stopGradient is identity forward and zero backward', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(stopGradient(v), v)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([x, g]);
  });

  it('leaks no tensors across repeated steps', () => {
    const fbm = new FeedbackMatrix(2, 3, 1);
    const W = tf.variable(tf.ones([3, 3]));
    const V = tf.variable(tf.ones([3, 2]));
    const x = tf.ones([4, 3]);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 0, 1], 'int32'), 2);
    const step = (): void => {
      const s = new DfaSession(fbm);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, s.tap(tf.matMul(s.feedbackPoint(tf.matMul(x, W)), V))) as tf.Scalar,
        [W, V],
      );
      tf.dispose([value, ...Object.values(grads)]);
      s.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([W, V, x, labels]);
    fbm.dispose();
  });
});
