/**
 * opulab's wasm kernels (src/backend/kernels/*, registered from src/backend/kernels/index.ts) against the tfjs cpu
 * backend, plus hand-worked cases, an exact linearity check of the filter gradient, and leak checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../src/backend/index';
import { registerKernels } from '../src/backend/kernels';
import { WASM_TRAINING_KERNELS } from '../src/backend/testing';
import { makeRng } from '../src/util/rng';
import { maxRelErr } from './helpers/numeric';
import { expectMemoryFlat } from './helpers/memory';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Random shapes (seeded) for the configurations the kernels must support, plus generic ones. */
function convCases(seed: number): ConvCase[] {
  const rng = makeRng(seed, 'wasm-kernels-shapes');
  const r = (lo: number, hi: number) => lo + rng.int(hi - lo + 1);
  const out: ConvCase[] = [];
  for (let i = 0; i < 2; i++) {
    const n = r(1, 3);
    const h = r(4, 9);
    const w = r(4, 9);
    const ci = r(1, 6);
    const co = r(1, 6);
    out.push(
      { name: `3x3 s1 same #${i}`, x: [n, h, w, ci], f: [3, 3, ci, co], strides: 1, pad: 'same' },
      { name: `3x3 s1 valid #${i}`, x: [n, h, w, ci], f: [3, 3, ci, co], strides: 1, pad: 'valid' },
      { name: `1x1 s1 #${i}`, x: [n, h, w, ci], f: [1, 1, ci, co], strides: 1, pad: 'valid' },
      { name: `3x3 s2 pad1 #${i}`, x: [n, h, w, ci], f: [3, 3, ci, co], strides: 2, pad: 1 },
      { name: `3x3 s2 same #${i}`, x: [n, h, w, ci], f: [3, 3, ci, co], strides: 2, pad: 'same' },
    );
  }
  out.push(
    { name: 'generic 5x3 stride [2,3] explicit pad', x: [2, 9, 10, 2], f: [5, 3, 2, 3], strides: [2, 3], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
    { name: 'generic 2x2 stride 3 valid (unused tail rows)', x: [1, 8, 8, 2], f: [2, 2, 2, 2], strides: 3, pad: 'valid' },
    { name: 'generic 3x3 stride 2 pad 1 ceil rounding', x: [1, 6, 6, 1], f: [3, 3, 1, 2], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  );
  return out;
}


/** Run `fn` on cpu then on wasm (same seeded inputs) and return both outputs' values and shapes. */
async function onBoth(fn: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: tf.Tensor[]; wasm: tf.Tensor[] }> {
  const res: Record<string, tf.Tensor[]> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const out = tf.tidy(fn);
    const list = Array.isArray(out) ? out : [out];
    // move results to plain cpu-independent tensors so they outlive the backend switch
    res[backend] = list.map((t) => {
      const copy = tf.tensor(t.dataSync().slice(), t.shape, t.dtype);
      t.dispose();
      return copy;
    });
  }
  await tf.setBackend('wasm');
  return { cpu: res.cpu, wasm: res.wasm };
}

function expectClose(a: tf.Tensor[], b: tf.Tensor[], tol = 1e-4): void {
  expect(b.length).toBe(a.length);
  a.forEach((t, i) => {
    expect(b[i].shape).toEqual(t.shape);
    expect(b[i].dtype).toBe(t.dtype);
    expect(maxRelErr(t.dataSync(), b[i].dataSync())).toBeLessThanOrEqual(tol);
  });
  tf.dispose([...a, ...b]);
}

beforeAll(async () => {
  await initBackend('wasm', true);
});

describe('registration', () => {
  test('idempotent: registering again keeps the installed kernels', () => {
    const before = WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k, 'wasm')?.kernelFunc);
    registerKernels();
    registerKernels();
    const after = WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k, 'wasm')?.kernelFunc);
    expect(before.every((f) => typeof f === 'function')).toBe(true);
    expect(after).toEqual(before);
  });
});

describe('conv gradient kernels match the cpu backend', () => {
  for (const c of convCases(7)) {
    test(c.name, async () => {
      const seed = makeRng(11, c.name).nextSeed();
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
      const { cpu, wasm } = await onBoth(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', seed) as tf.Tensor4D;
        const w = tf.randomNormal(c.f, 0, 1, 'float32', seed + 1) as tf.Tensor4D;
        const y = tf.conv2d(x, w, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode);
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', seed + 2);
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.f } as unknown as tf.NamedAttrMap) as tf.Tensor;
        // tfjs's Conv2D gradient drops dimRoundingMode, so autodiff is compared only without it
        if (c.dimRoundingMode) return [dx, dw];
        // the same through autodiff of tf.conv2d
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode), dy)),
        )([x, w]);
        return [dx, dw, gx, gw];
      });
      expectClose(cpu, wasm);
    });
  }
});

describe('hand-worked cases on wasm', () => {
  test('filter gradient of a valid 2x2 conv with dy = 1 at one pixel is the input patch', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    // output 2x2; dy = 1 only at output (1,0): dW[kh,kw] = x[1+kh, 0+kw]
    const dy = tf.tensor4d([0, 0, 1, 0], [1, 2, 2, 1]);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'valid', filterShape: [2, 2, 1, 1] }) as tf.Tensor;
    expect(Array.from(dw.dataSync())).toEqual([4, 5, 7, 8]);
    tf.dispose([x, dy, dw]);
  });

  test('input gradient of a stride-2 conv scatters the filter at twice the output position', () => {
    const w = tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]);
    const dy = tf.tensor4d([0, 0, 0, 1], [1, 2, 2, 1]); // gradient only at output (1,1)
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 2, pad: 'valid', inputShape: [1, 4, 4, 1] }) as tf.Tensor;
    // output (1,1) reads x[2..3, 2..3] with weights [[1,2],[3,4]]
    expect(Array.from(dx.dataSync())).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4]);
    tf.dispose([w, dy, dx]);
  });

  test('filter gradient is exact: L(w) = <conv(x, w), dy> is linear, so L(w + v) - L(w) = <dW, v>', () => {
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 21) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 22) as tf.Tensor4D;
    const v = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 23) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 24);
    const loss = (k: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.mul(tf.conv2d(x, k, 2, 1), dy)).dataSync()[0]);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 1, filterShape: w.shape }) as tf.Tensor;
    const wv = tf.add(w, v) as tf.Tensor4D;
    const fd = loss(wv) - loss(w);
    const analytic = tf.tidy(() => tf.sum(tf.mul(dw, v)).dataSync()[0]);
    expect(Math.abs(fd - analytic)).toBeLessThan(1e-3 * Math.max(1, Math.abs(analytic)));
    tf.dispose([x, w, v, dy, dw, wv]);
  });

  test('NCHW is rejected with a message naming the format', () => {
    const x = tf.zeros([1, 2, 4, 4]);
    const dy = tf.zeros([1, 2, 4, 4]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 2] }),
    ).toThrow(/NCHW/);
    tf.dispose([x, dy]);
  });
});

describe('Tile / Sum / Mean match the cpu backend', () => {
  const cases: [string, () => tf.Tensor][] = [
    ['tile [1,1,1,C] -> [N,H,W,C] (BatchNorm broadcast)', () => tf.tile(tf.randomNormal([1, 1, 1, 5], 0, 1, 'float32', 1), [2, 3, 4, 1])],
    ['tile every axis', () => tf.tile(tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2), [3, 2, 2])],
    ['tile int32', () => tf.tile(tf.tensor1d([1, 2, 3], 'int32'), [4])],
    ['tile bool', () => tf.tile(tf.tensor2d([[1, 0]], [1, 2], 'bool'), [3, 2])],
    ['sum leading axes', () => tf.sum(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 3), [0, 1, 2])],
    ['sum leading axes, unsorted, keepDims', () => tf.sum(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 3), [1, 0], true)],
    ['sum innermost axis (stock path)', () => tf.sum(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 3), 3)],
    ['sum middle axis (stock path)', () => tf.sum(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 3), 2)],
    ['sum all', () => tf.sum(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 3))],
    ['sum int32 (stock path)', () => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 0)],
    ['mean leading axes keepDims', () => tf.mean(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 4), [0, 1, 2], true)],
    ['mean middle axis (stock path)', () => tf.mean(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 4), 2)],
  ];
  for (const [name, fn] of cases) {
    test(name, async () => {
      const { cpu, wasm } = await onBoth(fn);
      expectClose(cpu, wasm);
    });
  }

  test('batchNorm training gradients (moments + batchNorm) match cpu', async () => {
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.randomNormal([4, 5, 5, 3], 0, 1, 'float32', 31);
      const gamma = tf.randomNormal([3], 1, 0.1, 'float32', 32);
      const beta = tf.randomNormal([3], 0, 0.1, 'float32', 33);
      const dy = tf.randomNormal([4, 5, 5, 3], 0, 1, 'float32', 34);
      return tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, g, 1e-5), dy));
      })([x, gamma, beta]);
    });
    expectClose(cpu, wasm, 5e-4);
  });
});

describe('memory', () => {
  test('repeated conv gradients leave tensor and wasm buffer counts flat', () => {
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 41) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 42) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() => {
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
          const h = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1);
          const { mean, variance } = tf.moments(h, [0, 1, 2]);
          return tf.sum(tf.square(tf.batchNorm(h, mean, variance, tf.zeros([4]), tf.ones([4]))));
        })([x, w]);
        return tf.add(tf.sum(gx), tf.sum(gw)).dataSync()[0];
      });
    expectMemoryFlat(step, 5);
    tf.dispose([x, w]);
  });
});
