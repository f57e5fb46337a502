import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import {
  ArrayFactorBlocks,
  BlockedMatrix,
  generateColumns,
  linearInputGradient,
  projectIntensity,
  quadraticInputGradient,
} from '../src/optics/transmission';
import { UserError } from '../src/util/errors';
import { NormalStream } from '../src/optics/fast-normal';

beforeAll(async () => {
  await initBackend('cpu', true);
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('fast normal stream', () => {
  it('is standard normal (moments and tails) and reproducible per (seed, stream)', () => {
    const st = new NormalStream(7, 3);
    const N = 400000;
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let t196 = 0;
    let t3 = 0;
    for (let i = 0; i < N; i++) {
      const z = st.normal();
      const z2 = z * z;
      s += z;
      s2 += z2;
      s4 += z2 * z2;
      if (z2 > 1.96 * 1.96) t196++;
      if (z2 > 9) t3++;
    }
    expect(Math.abs(s / N)).toBeLessThan(0.01);
    expect(Math.abs(s2 / N - 1)).toBeLessThan(0.01);
    expect(Math.abs(s4 / N - 3)).toBeLessThan(0.08);
    expect(Math.abs(t196 / N - 0.05)).toBeLessThan(0.003);
    expect(Math.abs(t3 / N - 0.0027)).toBeLessThan(0.0005);
    const a = new NormalStream(1, 2);
    const b = new NormalStream(1, 2);
    const c = new NormalStream(1, 3);
    const va = [a.normal(), a.normal(), a.normal()];
    expect([b.normal(), b.normal(), b.normal()]).toEqual(va);
    expect([c.normal(), c.normal(), c.normal()]).not.toEqual(va);
  });
});

describe('transmission matrix generation', () => {
  it('same seed = same matrix, different seed or kind = different matrix', () => {
    const a = new BlockedMatrix({ inFeatures: 5, outFeatures: 7, kind: 'physical', seed: 3 });
    const b = new BlockedMatrix({ inFeatures: 5, outFeatures: 7, kind: 'physical', seed: 3 });
    const c = new BlockedMatrix({ inFeatures: 5, outFeatures: 7, kind: 'physical', seed: 4 });
    const d = new BlockedMatrix({ inFeatures: 5, outFeatures: 7, kind: 'backward', seed: 3 });
    const A = a.toArrays();
    expect(Array.from(A.real)).toEqual(Array.from(b.toArrays().real));
    expect(Array.from(A.imag!)).toEqual(Array.from(b.toArrays().imag!));
    expect(maxAbsDiff(A.real, c.toArrays().real)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(A.real, d.toArrays().real)).toBeGreaterThan(0.1);
    // The imaginary part is not a copy of the real part.
    expect(maxAbsDiff(A.real, A.imag!)).toBeGreaterThan(0.1);
    [a, b, c, d].forEach((m) => m.dispose());
  });

  it('does not depend on the block size, and cached = streamed', () => {
    const n = 6;
    const m = 23;
    const whole = new BlockedMatrix({ inFeatures: n, outFeatures: m, kind: 'physical', seed: 11, blockSize: 1024 });
    const small = new BlockedMatrix({ inFeatures: n, outFeatures: m, kind: 'physical', seed: 11, blockSize: 5 });
    const streamed = new BlockedMatrix({ inFeatures: n, outFeatures: m, kind: 'physical', seed: 11, blockSize: 4, cache: false });
    expect(small.blocks.length).toBe(5);
    expect(small.blocks[4]).toEqual({ start: 20, width: 3 });
    expect(Array.from(whole.toArrays().real)).toEqual(Array.from(small.toArrays().real));
    expect(Array.from(whole.toArrays().imag!)).toEqual(Array.from(small.toArrays().imag!));
    const x = tf.tensor2d([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1], [2, n]);
    const y1 = projectIntensity(whole, x);
    const y2 = projectIntensity(small, x);
    const y3 = projectIntensity(streamed, x);
    expect(maxAbsDiff(y1.dataSync(), y2.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(y1.dataSync(), y3.dataSync())).toBeLessThan(1e-5);
    [x, y1, y2, y3].forEach((t) => t.dispose());
    [whole, small, streamed].forEach((mm) => mm.dispose());
  });

  it('physical: Re and Im are N(0, 1/n); E|xR|^2 = 2k/n and Var = (2k/n)^2 for k ones (Monte Carlo over columns)', () => {
    const n = 64;
    const m = 20000;
    const k = 16;
    const mat = new BlockedMatrix({ inFeatures: n, outFeatures: m, kind: 'physical', seed: 5, blockSize: 4096 });
    const { real } = mat.toArrays();
    let s = 0;
    let s2 = 0;
    for (const v of real) {
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / real.length)).toBeLessThan(0.01 / Math.sqrt(n));
    expect((s2 / real.length) * n).toBeCloseTo(1, 1);
    // x: k ones. xR is complex Gaussian with Re, Im ~ N(0, k/n): |xR|^2 ~ (k/n) chi^2_2, mean 2k/n, var (2k/n)^2.
    const xv = new Float32Array(n);
    for (let i = 0; i < k; i++) xv[i * 4] = 1;
    const x = tf.tensor2d(xv, [1, n]);
    const y = projectIntensity(mat, x);
    const v = y.dataSync();
    let mean = 0;
    for (const e of v) mean += e;
    mean /= m;
    let variance = 0;
    for (const e of v) variance += (e - mean) ** 2;
    variance /= m - 1;
    const theory = (2 * k) / n;
    expect(Math.abs(mean / theory - 1)).toBeLessThan(0.04); // std error 0.7%
    expect(Math.abs(variance / theory ** 2 - 1)).toBeLessThan(0.1); // std error ~2%
    [x, y].forEach((t) => t.dispose());
    mat.dispose();
  });

  it('reference: W ~ N(0,1)/sqrt(n_out); for x in {-1,+1}^n, E (xW)^2 = n/n_out, Var = 2 (n/n_out)^2', () => {
    const n = 32;
    const m = 20000;
    const mat = new BlockedMatrix({ inFeatures: n, outFeatures: m, kind: 'reference', seed: 8 });
    expect(mat.parts).toBe(1);
    const x = tf.tensor2d(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : -1)), [1, n]);
    const v = projectIntensity(mat, x).dataSync();
    let mean = 0;
    for (const e of v) mean += e;
    mean /= m;
    let variance = 0;
    for (const e of v) variance += (e - mean) ** 2;
    variance /= m - 1;
    expect(Math.abs(mean / (n / m) - 1)).toBeLessThan(0.05);
    expect(Math.abs(variance / (2 * (n / m) ** 2) - 1)).toBeLessThan(0.12);
    x.dispose();
    mat.dispose();
  });

  it('hand-computed 2x3 cases: reference (xW)^2 and physical |xR|^2 with their gradients', () => {
    // W = [[1,2,3],[4,5,6]]; x = [1,-1] -> xW = [-3,-3,-3] -> 9; x = [1,1] -> [5,7,9] -> [25,49,81].
    const W = new ArrayFactorBlocks(2, 3, [Float32Array.from([1, 2, 3, 4, 5, 6])], null, 2);
    const x = tf.tensor2d([1, -1, 1, 1], [2, 2]);
    const y = projectIntensity(W, x);
    expect(Array.from(y.dataSync())).toEqual([9, 9, 9, 25, 49, 81]);
    // grad of sum(g*y) = 2 (g*(xW)) W^T; g = 1 at row 0: 2*[-3,-3,-3] W^T = [-6*6, -6*15] = [-36, -90].
    const g = tf.tensor2d([1, 1, 1, 0, 0, 0], [2, 3]);
    const gx = quadraticInputGradient(W, x, g);
    expect(Array.from(gx.dataSync())).toEqual([-36, -90, 0, 0]);
    // Physical R = [[1+1i, 0+2i, 1], [2, 1-1i, 0+0i]]; x = [1, 1]: xR = [3+1i, 1+1i, 1] -> [10, 2, 1].
    const R = new ArrayFactorBlocks(2, 3, [Float32Array.from([1, 0, 1, 2, 1, 0]), Float32Array.from([1, 2, 0, 0, -1, 0])], null, 2);
    const xp = tf.tensor2d([1, 1, 1, 0], [2, 2]);
    const yp = projectIntensity(R, xp);
    // x = [1, 0]: row 0 of R -> |1+i|^2 = 2, |2i|^2 = 4, 1.
    expect(Array.from(yp.dataSync())).toEqual([10, 2, 1, 2, 4, 1]);
    // d|xr|^2/dx = 2 Re(conj(xr) r): at x=[1,1], output 0 (xr = 3+i): [2 Re((3-i)(1+i)), 2 Re((3-i)2)] = [8, 12].
    const gp = quadraticInputGradient(R, xp, tf.tensor2d([1, 0, 0, 0, 0, 0], [2, 3]));
    expect(Array.from(gp.dataSync())).toEqual([8, 12, 0, 0]);
    [x, y, g, gx, xp, yp, gp].forEach((t) => t.dispose());
    W.dispose();
    R.dispose();
  });

  it('signed factors: y = sum_k s_k (x a_k)^2 and the gradient follows the signs', () => {
    // Two parts, column 0 signs (+1, -1): y = (x a1)^2 - (x a2)^2 with a1 = [1, 2], a2 = [1, 0]; x = [1, 1] -> 9 - 1 = 8.
    const F = new ArrayFactorBlocks(2, 1, [Float32Array.from([1, 2]), Float32Array.from([1, 0])], Float32Array.from([1, -1]));
    const x = tf.tensor2d([[1, 1]]);
    const y = projectIntensity(F, x);
    expect(Array.from(y.dataSync())).toEqual([8]);
    // grad = 2 (x a1) a1 - 2 (x a2) a2 = 6 [1, 2] - 2 [1, 0] = [4, 12]
    const g = quadraticInputGradient(F, x, tf.tensor2d([[1]]));
    expect(Array.from(g.dataSync())).toEqual([4, 12]);
    expect(() => new ArrayFactorBlocks(2, 1, [Float32Array.from([1, 2])], Float32Array.from([1, 1]))).toThrow(/signs of length 2/);
    [x, y, g].forEach((t) => t.dispose());
    F.dispose();
  });

  it('linear backward g B^T matches a dense computation', () => {
    const B = new BlockedMatrix({ inFeatures: 4, outFeatures: 9, kind: 'backward', seed: 2, blockSize: 4 });
    const { real } = B.toArrays();
    const gv = Array.from({ length: 18 }, (_, i) => Math.sin(i));
    const g = tf.tensor2d(gv, [2, 9]);
    const out = linearInputGradient(B, g).dataSync();
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < 4; i++) {
        let s = 0;
        for (let j = 0; j < 9; j++) s += gv[r * 9 + j] * real[i * 9 + j];
        expect(out[r * 4 + i]).toBeCloseTo(s, 5);
      }
    }
    g.dispose();
    B.dispose();
  });

  // Generation speed is measured by `npm run bench` (opu-bench), not asserted here: a timed test fails on a loaded machine.
  it('generates 2000x10000 complex (real and imaginary parts) and rejects bad sizes', () => {
    const v = generateColumns('physical', 2000, 10000, 1, 0, 10000);
    expect(v.length).toBe(2 * 2000 * 10000);
    expect(() => new BlockedMatrix({ inFeatures: 0, outFeatures: 3, kind: 'reference', seed: 1 })).toThrow(UserError);
    expect(() => new BlockedMatrix({ inFeatures: 2e6, outFeatures: 3, kind: 'reference', seed: 1 })).toThrow(/inFeatures/);
    expect(() => new BlockedMatrix({ inFeatures: 3, outFeatures: 3, kind: 'reference', seed: 1.5 })).toThrow(/seed/);
  });
});
