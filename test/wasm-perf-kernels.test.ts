/**
 * The speed kernels: disjoint MaxPoolGrad on wasm (src/backend/kernels/maxpool-grad.ts) and the fused
 * training BatchNorm+ReLU kernel with its closed-form gradient (src/backend/kernels/batchnorm-relu.ts),
 * against the cpu backend / op-by-op autodiff, a hand-worked case, finite differences, ConvBnRelu's
 * two paths, determinism and leak checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../src/backend/index';
import { BN_RELU_TRAIN, batchNormReluTrain } from '../src/backend/kernels/batchnorm-relu';
import { bnReluBackward, bnReluForward, bnReluSimdCalls } from '../src/backend/testing';
import { ConvBnRelu, BN_EPSILON } from '../src/models/layers';
import { ParamStore } from '../src/models/params';
import { makeRng } from '../src/util/rng';
import { transposeLastTwo } from '../src/backend/wasm/layout';
import { convBiasRelu } from '../src/backend/kernels/fused-conv-relu';
import { maxRelErr } from './helpers/numeric';
import { expectMemoryFlat } from './helpers/memory';


/** Run `fn` on each backend (same seeded inputs); values copied out as plain arrays. */
async function onBackends(backends: string[], fn: () => tf.Tensor[]): Promise<Record<string, Float32Array[]>> {
  const res: Record<string, Float32Array[]> = {};
  for (const b of backends) {
    await tf.setBackend(b);
    const out = tf.tidy(fn);
    res[b] = out.map((t) => t.dataSync().slice() as Float32Array);
    tf.dispose(out);
  }
  await tf.setBackend('wasm');
  return res;
}

/** Op-by-op reference of the fused kernel: relu(batchNorm(z + bias)) with tfjs autodiff. */
function reference(z: tf.Tensor4D, bias: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D) {
  const zb = tf.add(z, bias) as tf.Tensor4D;
  const { mean, variance } = tf.moments(zb, [0, 1, 2]);
  return { y: tf.relu(tf.batchNorm(zb, mean, variance, beta, gamma, BN_EPSILON)) as tf.Tensor4D, mean, variance };
}

beforeAll(async () => {
  await initBackend('wasm', true);
});

describe('MaxPoolGrad (disjoint windows) matches the cpu backend', () => {
  // ties: the stock wasm kernel (used for overlapping/padded pools) breaks ties differently from cpu, so
  // those cases use tie-free data; the disjoint kernel must match cpu's tie rule exactly. (Padded pools
  // also go to the stock kernel, which drops some border gradients relative to cpu: a tfjs issue, not
  // tested here.)
  const cases: [string, number[], number, number, 'valid' | 'same', boolean][] = [
    ['2x2/2 valid, even size, ties', [2, 6, 6, 5], 2, 2, 'valid', true],
    ['2x2/2 valid, odd size (uncovered tail), ties', [2, 7, 5, 3], 2, 2, 'valid', true],
    ['3x3/3 valid (generic window), ties', [1, 9, 7, 2], 3, 3, 'valid', true],
    ['3x3/2 overlapping (stock path)', [1, 7, 7, 2], 3, 2, 'valid', false],
  ];
  for (const [name, shape, size, stride, pad, ties] of cases) {
    test(name, async () => {
      const seed = makeRng(5, name).nextSeed();
      const res = await onBackends(['cpu', 'wasm'], () => {
        // relu + rounding to quarters makes many ties (the tie rule must match too)
        const raw = tf.randomNormal(shape, 0, 1, 'float32', seed);
        const x = ties ? tf.round(tf.mul(tf.relu(raw), 4)) : raw;
        const dy = tf.randomNormal(tf.maxPool(x as tf.Tensor4D, size, stride, pad).shape, 0, 1, 'float32', seed + 1);
        const [dx] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, size, stride, pad), dy)))([x]);
        return [dx];
      });
      expect(Array.from(res.wasm[0])).toEqual(Array.from(res.cpu[0]));
    });
  }

  test('hand-worked: gradient goes to the first maximum of each window', () => {
    // one 2x2 window per channel-free image: [[1, 3], [3, 2]] -> max 3 first at (0,1)
    const x = tf.tensor4d([1, 3, 3, 2], [1, 2, 2, 1]);
    const [dx] = tf.grads((a: tf.Tensor) => tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), 5))([x]);
    expect(Array.from(dx.dataSync())).toEqual([0, 5, 0, 0]);
    tf.dispose([x, dx]);
  });
});

describe('Conv2DBackpropFilter, stride 1 with 8 <= CI < CO (x as the XNNPACK filter) matches cpu', () => {
  type Shape4 = [number, number, number, number];
  const cases: [string, Shape4, Shape4, 'same' | 'valid' | number][] = [
    ['3x3 same', [3, 8, 7, 8], [3, 3, 8, 10], 'same'],
    ['3x3 same, CI < 8 (other form)', [3, 8, 7, 2], [3, 3, 2, 5], 'same'],
    ['3x3 valid (x larger than dy: other form)', [2, 7, 9, 3], [3, 3, 3, 4], 'valid'],
    // (no numeric pad with a non-square kernel: tfjs-core then computes the output width from the
    // kernel height, and the wasm conv writes past its output)
    ['5x3 same', [2, 9, 8, 8], [5, 3, 8, 9], 'same'],
    ['4x2 same (even kernel, asymmetric pads)', [2, 6, 7, 9], [4, 2, 9, 12], 'same'],
    ['1x1', [2, 5, 5, 8], [1, 1, 8, 11], 'valid'],
    ['3x3 pad 4 (pad > kernel - 1: other form)', [1, 5, 5, 8], [3, 3, 8, 9], 4],
  ];
  for (const [name, xs, fs, pad] of cases) {
    test(name, async () => {
      const seed = makeRng(9, name).nextSeed();
      const res = await onBackends(['cpu', 'wasm'], () => {
        const x = tf.randomNormal(xs, 0, 1, 'float32', seed) as tf.Tensor4D;
        const w = tf.randomNormal(fs, 0, 1, 'float32', seed + 1) as tf.Tensor4D;
        const dy = tf.randomNormal(tf.conv2d(x, w, 1, pad).shape, 0, 1, 'float32', seed + 2);
        const [dw] = tf.grads((k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, k as tf.Tensor4D, 1, pad), dy)))([w]);
        return [dw];
      });
      expect(maxRelErr(res.cpu[0], res.wasm[0])).toBeLessThan(1e-4);
    });
  }
});

describe('BatchMatMul with transposed operands matches the cpu backend', () => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['A B^T', [5, 7], [6, 7], false, true],
    ['A^T B', [7, 5], [7, 6], true, false],
    ['A^T B^T', [7, 5], [6, 7], true, true],
    ['batched A B^T', [3, 5, 7], [3, 6, 7], false, true],
    ['batched A^T B, broadcast batch', [3, 7, 5], [1, 7, 6], true, false],
    ['plain (stock path)', [5, 7], [7, 6], false, false],
  ];
  for (const [name, sa, sb, ta, tb] of cases) {
    test(name, async () => {
      const seed = makeRng(3, name).nextSeed();
      const res = await onBackends(['cpu', 'wasm'], () => [
        tf.matMul(tf.randomNormal(sa, 0, 1, 'float32', seed), tf.randomNormal(sb, 0, 1, 'float32', seed + 1), ta, tb),
      ]);
      expect(maxRelErr(res.cpu[0], res.wasm[0])).toBeLessThan(1e-5);
    });
  }

  test('hand-worked transpose of two 2x3 matrices', () => {
    const dst = new Float32Array(12);
    transposeLastTwo(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), dst, 2, 2, 3);
    expect(Array.from(dst)).toEqual([1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]);
  });

  test('Dense-style gradients through transposed matmuls leave memory flat', () => {
    const a = tf.randomNormal([4, 9], 0, 1, 'float32', 5);
    const b = tf.randomNormal([9, 3], 0, 1, 'float32', 6);
    const step = () => tf.tidy(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([a, b]).forEach((g) => g.dataSync()));
    expectMemoryFlat(step, 3);
    tf.dispose([a, b]);
  });
});

describe('fused training BatchNorm+ReLU kernel', () => {
  test('hand-worked: one channel, z = [1, 3], gamma 2, beta 0.5, bias 1', () => {
    const y = new Float32Array(2);
    const mean = new Float32Array(1);
    const variance = new Float32Array(1);
    bnReluForward(new Float32Array([1, 3]), new Float32Array([1]), new Float32Array([2]), new Float32Array([0.5]), 0, y, mean, variance);
    // z + bias = [2, 4]: mean 3, var 1, xhat = [-1, 1], y = relu(2 xhat + 0.5) = [0, 2.5]
    expect(Array.from(mean)).toEqual([3]);
    expect(Array.from(variance)).toEqual([1]);
    expect(Array.from(y)).toEqual([0, 2.5]);
    const dz = new Float32Array(2);
    const [db, dg, dbeta] = [new Float32Array(1), new Float32Array(1), new Float32Array(1)];
    bnReluBackward(new Float32Array([7, 1]), new Float32Array([1, 3]), y, new Float32Array([1]), new Float32Array([2]), mean, variance, 0, dz, db, dg, dbeta);
    // g = [0, 1] (relu cut the first); mean g = 0.5, mean g*xhat = 0.5
    // dz = 2 * (g - 0.5 - xhat * 0.5) = 2 * [0 - 0.5 + 0.5, 1 - 0.5 - 0.5] = [0, 0]; dgamma = 1, dbeta = 1
    expect(Array.from(dz)).toEqual([0, 0]);
    expect([dg[0], dbeta[0], db[0]]).toEqual([1, 1, 0]);
  });

  // 6 channels: the JavaScript loops on wasm; 8 and 12 channels (105 and 162 rows, several 32-row blocks): the SIMD
  // loops (3 calls: the forward, the forward under tf.grads, the backward)
  test.each([
    [[3, 5, 4, 6], 0],
    [[3, 7, 5, 8], 3],
    [[2, 9, 9, 12], 3],
  ] as const)('forward and gradients match op-by-op autodiff, on cpu and wasm (shape %j)', async (dims, simdCalls) => {
    const shape = [...dims] as [number, number, number, number];
    const ch = shape[3];
    const run = (fused: boolean) => () => {
      const z = tf.randomNormal(shape, 0.3, 2, 'float32', 61) as tf.Tensor4D;
      const bias = tf.randomNormal([ch], 0, 1, 'float32', 62) as tf.Tensor1D;
      const gamma = tf.randomNormal([ch], 1, 0.3, 'float32', 63) as tf.Tensor1D;
      const beta = tf.randomNormal([ch], 0, 0.5, 'float32', 64) as tf.Tensor1D;
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 65);
      const f = (a: tf.Tensor4D, b: tf.Tensor1D, g: tf.Tensor1D, c: tf.Tensor1D) => {
        const r = fused ? batchNormReluTrain(a, b, g, c, BN_EPSILON) : reference(a, b, g, c);
        if (!r) throw new Error('fused kernel missing on this backend');
        return r;
      };
      const { y, mean, variance } = f(z, bias, gamma, beta);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, g: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor1D, g as tf.Tensor1D, c as tf.Tensor1D).y, dy)),
      )([z, bias, gamma, beta]);
      return [y, mean, variance, ...grads];
    };
    const ref = await onBackends(['cpu'], run(false));
    const before = bnReluSimdCalls.count;
    const fused = await onBackends(['cpu', 'wasm'], run(true));
    expect(bnReluSimdCalls.count - before).toBe(simdCalls);
    for (const b of ['cpu', 'wasm']) {
      const names = ['y', 'mean', 'variance', 'dz', 'dbias', 'dgamma', 'dbeta'];
      names.forEach((name, i) => {
        if (name === 'dbias') {
          // exactly zero in the fused kernel; autodiff returns rounding noise around zero
          expect(Array.from(fused[b][i])).toEqual(new Array(ch).fill(0));
          expect(Math.max(...Array.from(ref.cpu[i]).map(Math.abs))).toBeLessThan(1e-4);
        } else {
          expect({ name, backend: b, err: maxRelErr(ref.cpu[i], fused[b][i]) < 1e-4 }).toEqual({ name, backend: b, err: true });
        }
      });
    }
  });

  test('input gradient matches central finite differences of a float64 loss', () => {
    // L = sum(w * relu(bn(z))) evaluated in float64 by a direct implementation
    const rows = 5;
    const c = 2;
    const rng = makeRng(71, 'bn-fd');
    const z = Float64Array.from({ length: rows * c }, () => rng.range(-2, 2));
    const w = Float64Array.from({ length: rows * c }, () => rng.range(-1, 1));
    const gamma = [1.3, 0.7];
    const beta = [0.2, -0.1];
    const eps = 1e-5;
    const loss = (v: Float64Array): number => {
      let total = 0;
      for (let k = 0; k < c; k++) {
        let m = 0;
        for (let r = 0; r < rows; r++) m += v[r * c + k] / rows;
        let s = 0;
        for (let r = 0; r < rows; r++) s += (v[r * c + k] - m) ** 2 / rows;
        for (let r = 0; r < rows; r++) total += w[r * c + k] * Math.max(0, (gamma[k] * (v[r * c + k] - m)) / Math.sqrt(s + eps) + beta[k]);
      }
      return total;
    };
    const y = new Float32Array(rows * c);
    const mean = new Float32Array(c);
    const variance = new Float32Array(c);
    const z32 = Float32Array.from(z);
    const zeros = new Float32Array(c);
    bnReluForward(z32, zeros, Float32Array.from(gamma), Float32Array.from(beta), eps, y, mean, variance);
    const dz = new Float32Array(rows * c);
    bnReluBackward(Float32Array.from(w), z32, y, zeros, Float32Array.from(gamma), mean, variance, eps, dz, new Float32Array(c), new Float32Array(c), new Float32Array(c));
    const h = 1e-6;
    const fd = Array.from(z, (_, i) => {
      const plus = Float64Array.from(z32);
      const minus = Float64Array.from(z32);
      plus[i] += h;
      minus[i] -= h;
      return (loss(plus) - loss(minus)) / (2 * h);
    });
    expect(maxRelErr(fd, dz)).toBeLessThan(1e-4);
  });
});

describe('convBiasRelu (FusedConv2D with per-input gradients)', () => {
  const inputs = () => ({
    x: tf.randomNormal([2, 7, 6, 3], 0, 1, 'float32', 101) as tf.Tensor4D,
    w: tf.randomNormal([3, 3, 3, 4], 0, 0.5, 'float32', 102) as tf.Tensor4D,
    b: tf.randomNormal([4], 0, 0.5, 'float32', 103) as tf.Tensor1D,
    dy: tf.randomNormal([2, 7, 6, 4], 0, 1, 'float32', 104),
  });

  test('value and gradients match conv2d + add + relu autodiff on cpu and wasm', async () => {
    const run = (fused: boolean) => () => {
      const { x, w, b, dy } = inputs();
      const f = (a: tf.Tensor4D, k: tf.Tensor4D, c: tf.Tensor1D) =>
        fused ? convBiasRelu(a, k, c, 1, 'same') : (tf.relu(tf.add(tf.conv2d(a, k, 1, 'same'), c)) as tf.Tensor4D);
      const grads = tf.grads((a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, k as tf.Tensor4D, c as tf.Tensor1D), dy)),
      )([x, w, b]);
      return [f(x, w, b), ...grads];
    };
    const ref = await onBackends(['cpu'], run(false));
    const got = await onBackends(['cpu', 'wasm'], run(true));
    for (const backend of ['cpu', 'wasm']) {
      ['y', 'dx', 'dw', 'db'].forEach((name, i) => {
        expect({ name, backend, ok: maxRelErr(ref.cpu[i], got[backend][i]) < 1e-4 }).toEqual({ name, backend, ok: true });
      });
    }
  });

  test('an input gradient runs no filter gradient kernel', async () => {
    const { x, w, b } = inputs();
    const info = await tf.profile(() => tf.tidy(() => void tf.grad((a: tf.Tensor) => tf.sum(convBiasRelu(a as tf.Tensor4D, w, b, 1, 'same')))(x).dataSync()));
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('FusedConv2D');
    expect(names).toContain('Conv2DBackpropInput');
    expect(names).not.toContain('Conv2DBackpropFilter');
    tf.dispose([x, w, b]);
  });
});

describe('ConvBnRelu training path', () => {
  function layerRun(useFused: boolean) {
    const kernel = tf.getKernel(BN_RELU_TRAIN, 'wasm');
    if (!kernel) throw new Error('fused kernel not registered on wasm');
    if (!useFused) tf.unregisterKernel(BN_RELU_TRAIN, 'wasm');
    try {
      const store = new ParamStore();
      const layer = new ConvBnRelu(store, 'c', 3, 5, makeRng(81, 'layer'));
      // non-trivial bias/gamma/beta so every term matters
      layer.b.assign(tf.randomNormal([5], 0, 1, 'float32', 82));
      layer.gamma.assign(tf.randomNormal([5], 1, 0.3, 'float32', 83));
      layer.beta.assign(tf.randomNormal([5], 0, 0.5, 'float32', 84));
      const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 85) as tf.Tensor4D;
      const dy = tf.randomNormal([2, 6, 6, 5], 0, 1, 'float32', 86);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }), dy)) as tf.Scalar, store.trainable());
      const out = {
        loss: value.dataSync()[0],
        grads: store.trainable().map((v) => (grads[v.name] ? Array.from(grads[v.name].dataSync()) : null)),
        runningMean: Array.from(layer.runningMean.dataSync()),
        runningVar: Array.from(layer.runningVar.dataSync()),
      };
      tf.dispose([value, x, dy, ...Object.values(grads)]);
      store.dispose();
      return out;
    } finally {
      if (!useFused) tf.registerKernel(kernel);
    }
  }

  test('fused and op-by-op paths give the same loss, gradients and running stats', () => {
    const fused = layerRun(true);
    const plain = layerRun(false);
    expect(Math.abs(fused.loss - plain.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(plain.loss)));
    expect(maxRelErr(plain.runningMean, fused.runningMean)).toBeLessThan(1e-5);
    expect(maxRelErr(plain.runningVar, fused.runningVar)).toBeLessThan(1e-5);
    expect(fused.grads.length).toBe(4); // kernel, bias, gamma, beta
    fused.grads.forEach((g, i) => {
      const p = plain.grads[i];
      expect(g).not.toBeNull();
      expect(p).not.toBeNull();
      if (i === 1) {
        // conv bias: exactly zero fused, rounding noise op-by-op
        expect(Math.max(...(p as number[]).map(Math.abs))).toBeLessThan(1e-4);
      } else {
        expect(maxRelErr(p as number[], g as number[])).toBeLessThan(1e-4);
      }
    });
  });

  test('deterministic: the same inputs give identical bits', () => {
    expect(layerRun(true)).toEqual(layerRun(true));
  });

  test('repeated training steps leave tensor and wasm buffer counts flat', () => {
    const store = new ParamStore();
    const layer = new ConvBnRelu(store, 'm', 3, 4, makeRng(91, 'mem'));
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 92) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.square(tf.maxPool(layer.apply(x, { training: true }), 2, 2, 'valid'))) as tf.Scalar,
          store.trainable(),
        );
        value.dataSync();
        tf.dispose(Object.values(grads));
      });
    expectMemoryFlat(step, 4);
    tf.dispose(x);
    store.dispose();
  });
});
