import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import {
  binarizeSign,
  binarizeThreshold,
  bitPlaneEncode,
  combineFrames,
  encoderFrames,
  thermometerEncode,
} from '../src/optics/encoders';
import { UserError } from '../src/util/errors';

/** tf.grad for functions of a rank-2 input. */
const grad2d = (f: (v: tf.Tensor2D) => tf.Tensor) => tf.grad((v: tf.Tensor) => f(v as tf.Tensor2D));

beforeAll(async () => {
  await initBackend('cpu', true);
});

const X = [
  [0.0, 2.0, 1.0, 5.0],
  [3.0, 0.5, 0.2, 0.1],
];
// Batch mean 1.475; row means 2.0 and 0.95.

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('sign binarization', () => {
  it('sign(x - mean) with batch mean (reference), sample mean, or none; ties -> +1', () => {
    const x = tf.tensor2d(X);
    expect(values(binarizeSign(x))).toEqual([-1, 1, -1, 1, 1, -1, -1, -1]);
    expect(values(binarizeSign(x, { center: 'sample-mean' }))).toEqual([-1, 1, -1, 1, 1, -1, -1, -1]);
    const y = tf.tensor2d([[0, -1, 2, 0]]);
    expect(values(binarizeSign(y, { center: 'none' }))).toEqual([1, -1, 1, 1]);
    // A case where batch and sample means disagree: row 1 is entirely below the batch mean.
    const z = tf.tensor2d([
      [10, 12],
      [1, 3],
    ]);
    expect(values(binarizeSign(z, { center: 'batch-mean' }))).toEqual([1, 1, -1, -1]);
    expect(values(binarizeSign(z, { center: 'sample-mean' }))).toEqual([-1, 1, -1, 1]);
    [x, y, z].forEach((t) => t.dispose());
  });

  it("gradients: zero, straight-through identity (through the mean subtraction), tanh(beta x) surrogate", () => {
    const x = tf.tensor2d(X);
    const w = tf.tensor2d([
      [1, -2, 3, 0.5],
      [-1, 4, 2, 1],
    ]);
    const loss = (opts: Parameters<typeof binarizeSign>[1]) => (v: tf.Tensor2D) => tf.sum(tf.mul(binarizeSign(v, opts), w));
    expect(values(grad2d(loss({ gradient: 'zero' }))(x))).toEqual(new Array(8).fill(0));
    // STE without centering: d/dx sum(w * sign(x)) = w.
    expect(values(grad2d(loss({ gradient: 'ste', center: 'none' }))(x))).toEqual(values(w));
    // STE with the batch mean: w - mean(w) (the reference differentiates x - x.mean()).
    const wv = values(w);
    const wMean = wv.reduce((a, b) => a + b, 0) / wv.length;
    values(grad2d(loss({ gradient: 'ste' }))(x)).forEach((g, i) => expect(g).toBeCloseTo(wv[i] - wMean, 5));
    // tanh surrogate, no centering: w * beta (1 - tanh^2(beta x)).
    const beta = 2.5;
    const xv = values(x);
    values(grad2d(loss({ gradient: 'tanh', beta, center: 'none' }))(x)).forEach((g, i) =>
      expect(g).toBeCloseTo(wv[i] * beta * (1 - Math.tanh(beta * xv[i]) ** 2), 5),
    );
    [x, w].forEach((t) => t.dispose());
  });

  it('rejects unknown modes and bad beta', () => {
    const x = tf.tensor2d(X);
    expect(() => binarizeSign(x, { gradient: 'bogus' as never })).toThrow(/sign gradient 'bogus'/);
    expect(() => binarizeSign(x, { gradient: 'tanh', beta: 0 })).toThrow(UserError);
    expect(() => binarizeSign(x, { center: 'middle' as never })).toThrow(/center 'middle'/);
    x.dispose();
  });
});

describe('threshold, thermometer and bit-plane encoders', () => {
  it('fixed and median thresholds', () => {
    const x = tf.tensor2d(X);
    expect(values(binarizeThreshold(x, { threshold: 1 }))).toEqual([-1, 1, 1, 1, 1, -1, -1, -1]);
    // Row medians: 1.5 and 0.35 -> half the pixels ON per row.
    expect(values(binarizeThreshold(x, { threshold: 'median' }))).toEqual([-1, 1, -1, 1, 1, 1, -1, -1]);
    const odd = tf.tensor2d([[5, 1, 3]]);
    expect(values(binarizeThreshold(odd, { threshold: 'median' }))).toEqual([1, -1, 1]);
    [x, odd].forEach((t) => t.dispose());
  });

  it('thermometer: k frames, frame i = [x > t_i], decoder reconstructs to within a step', () => {
    const x = tf.tensor2d([[0.1, 0.45, 0.9]]);
    const enc = thermometerEncode(x, { levels: 3, min: 0, max: 1, values: 'binary' });
    // thresholds 0.25, 0.5, 0.75 -> frames (frame-major rows)
    expect(enc.framesPerVector).toBe(3);
    expect(enc.frames.shape).toEqual([3, 3]);
    expect(values(enc.frames)).toEqual([0, 1, 1, 0, 0, 1, 0, 0, 1]);
    const dec = combineFrames(enc.frames, 3, 'sum', enc.decoderWeights);
    values(dec).forEach((d, i) => expect(Math.abs(d + enc.decoderOffset - [0.1, 0.45, 0.9][i])).toBeLessThanOrEqual(0.125 + 1e-6));
    const signed = thermometerEncode(x, { levels: 3, min: 0, max: 1 });
    expect(values(signed.frames)).toEqual([-1, 1, 1, -1, -1, 1, -1, -1, 1]);
    // STE: decode(encode(x)) has unit derivative (pseudo-inverse of the decoder).
    const f = (v: tf.Tensor2D) => {
      const e = thermometerEncode(v, { levels: 3, min: 0, max: 1, gradient: 'ste', values: 'binary' });
      return tf.sum(combineFrames(e.frames, 3, 'sum', e.decoderWeights));
    };
    values(grad2d(f)(x)).forEach((g) => expect(g).toBeCloseTo(1, 5));
    [x, enc.frames, dec, signed.frames].forEach((t) => t.dispose());
  });

  it('bit-plane: P frames (2P signed), exact reconstruction at the grid, unit STE', () => {
    // range [0, 7], 3 bits: q = x exactly for integers.
    const x = tf.tensor2d([[0, 5, 6, 7]]);
    const enc = bitPlaneEncode(x, { bits: 3, min: 0, max: 7, values: 'binary' });
    expect(enc.framesPerVector).toBe(3);
    // planes (LSB first): 5 = 101, 6 = 110, 7 = 111
    expect(values(enc.frames)).toEqual([0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1]);
    const dec = combineFrames(enc.frames, 3, 'sum', enc.decoderWeights);
    expect(values(dec)).toEqual([0, 5, 6, 7]);
    const s = tf.tensor2d([[-3, 2]]);
    const senc = bitPlaneEncode(s, { bits: 2, min: -3, max: 3, signed: true, values: 'binary' });
    expect(senc.framesPerVector).toBe(4);
    expect(values(combineFrames(senc.frames, 4, 'sum', senc.decoderWeights))).toEqual([-3, 2]);
    const f = (v: tf.Tensor2D) => {
      const e = bitPlaneEncode(v, { bits: 3, min: 0, max: 7, gradient: 'ste' });
      // signed frames: bit = (frame + 1) / 2
      const bits = tf.div(tf.add(e.frames, 1), 2) as tf.Tensor2D;
      return tf.sum(combineFrames(bits, 3, 'sum', e.decoderWeights));
    };
    values(grad2d(f)(x)).forEach((g) => expect(g).toBeCloseTo(1, 5));
    const fz = (v: tf.Tensor2D) => tf.sum(bitPlaneEncode(v, { bits: 3, min: 0, max: 7 }).frames);
    expect(values(grad2d(fz)(x))).toEqual([0, 0, 0, 0]);
    expect(() => bitPlaneEncode(x, { bits: 3, min: 0, max: 7, gradient: 'tanh' })).toThrow(/bit-plane gradient 'tanh'/);
    expect(() => bitPlaneEncode(x, { bits: 0, min: 0, max: 7 })).toThrow(/bits = 0/);
    [x, enc.frames, dec, s, senc.frames].forEach((t) => t.dispose());
  });

  it('frame counts per encoder and frame concatenation', () => {
    expect(encoderFrames({ kind: 'sign' })).toBe(1);
    expect(encoderFrames({ kind: 'thermometer', levels: 5 })).toBe(5);
    expect(encoderFrames({ kind: 'bitplane', bits: 4 })).toBe(4);
    expect(encoderFrames({ kind: 'bitplane', bits: 4, signed: true })).toBe(8);
    // 2 frames x 2 samples, m = 2: rows [f0s0, f0s1, f1s0, f1s1]
    const y = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    expect(values(combineFrames(y, 2, 'concat'))).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    expect(values(combineFrames(y, 2, 'sum', [1, 10]))).toEqual([51, 62, 73, 84]);
    expect(() => combineFrames(y, 3, 'sum')).toThrow(/framesPerVector = 3/);
    y.dispose();
  });

  it('keeps the tensor count flat through forward and backward', () => {
    const x = tf.tensor2d(X);
    const w = tf.tensor2d([
      [1, -2, 3, 0.5],
      [-1, 4, 2, 1],
    ]);
    const run = () =>
      tf.tidy(() => {
        for (const gradient of ['zero', 'ste', 'tanh'] as const) {
          grad2d((v: tf.Tensor2D) => tf.sum(tf.mul(binarizeSign(v, { gradient }), w)))(x);
        }
        grad2d((v: tf.Tensor2D) => tf.sum(thermometerEncode(v, { levels: 2, min: 0, max: 5, gradient: 'ste' }).frames))(x);
        grad2d((v: tf.Tensor2D) => tf.sum(bitPlaneEncode(v, { bits: 2, min: 0, max: 5, gradient: 'ste' }).frames))(x);
      });
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    [x, w].forEach((t) => t.dispose());
  });
});
