import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Camera, saturatedFraction } from '../src/optics/camera';
import { inputDensity, OpticalCostModel } from '../src/optics/cost';
import { UserError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('cpu', true);
});

function read(cam: Camera, values: number[], shape: [number, number]): Float32Array {
  const x = tf.tensor2d(values, shape);
  const y = cam.read(x);
  const v = y.dataSync() as Float32Array;
  x.dispose();
  y.dispose();
  return v;
}

describe('camera', () => {
  it('all options off is the identity (reference output reproduced exactly)', () => {
    const cam = new Camera();
    expect(cam.isIdentity).toBe(true);
    expect(cam.stochastic).toBe(false);
    const vals = [0.123456, 7.5, 1e-7, 300.25];
    expect(Array.from(read(cam, vals, [2, 2]))).toEqual(Array.from(Float32Array.from(vals)));
  });

  it('gain, exposure and dark offset are affine; 8-bit quantization rounds and saturates at 255', () => {
    const affine = new Camera({ gain: 2, exposure: 1.5, darkOffset: 3 });
    expect(Array.from(read(affine, [0, 1, 10], [1, 3]))).toEqual([3, 6, 33]);
    const q = new Camera({ quantize: true });
    // 0.4 -> 0, 1.6 -> 2, 254.6 -> 255, 300 -> 255 (saturation), -3 -> 0 (clip), 17.2 -> 17.
    expect(Array.from(read(q, [0.4, 1.6, 254.6, 300, -3, 17.2], [2, 3]))).toEqual([0, 2, 255, 255, 0, 17]);
    const q4 = new Camera({ quantize: true, bitDepth: 4, gain: 10 });
    expect(Array.from(read(q4, [0.5, 1.24, 3], [1, 3]))).toEqual([5, 12, 15]);
    const sat = tf.tensor1d([255, 3, 255, 0]);
    expect(saturatedFraction(sat)).toBeCloseTo(0.5, 6);
    sat.dispose();
  });

  it("hardware path: counts / 255 minus the batch mean (the reference's real OPU) or the sample mean", () => {
    const batch = new Camera({ quantize: true, hardwareNormalize: 'batch-mean' });
    // counts [0, 255, 51, 102] -> /255 = [0, 1, 0.2, 0.4], mean 0.4.
    const v = read(batch, [0, 400, 51, 102], [2, 2]);
    [-0.4, 0.6, -0.2, 0].forEach((e, i) => expect(v[i]).toBeCloseTo(e, 6));
    const sample = new Camera({ hardwareNormalize: 'sample-mean' });
    const w = read(sample, [0, 255, 51, 102], [2, 2]);
    [-0.5, 0.5, -0.1, 0.1].forEach((e, i) => expect(w[i]).toBeCloseTo(e, 6));
    expect(batch.scale).toBeCloseTo(1 / 255, 9);
  });

  it('noise on: differs per call, same sequence for the same seed, resetNoise restarts it', () => {
    const vals = new Array(64).fill(100);
    const a = new Camera({ shotNoise: true, readNoiseStd: 2, seed: 9 });
    const b = new Camera({ shotNoise: true, readNoiseStd: 2, seed: 9 });
    const c = new Camera({ shotNoise: true, readNoiseStd: 2, seed: 10 });
    expect(a.stochastic).toBe(true);
    const a1 = Array.from(read(a, vals, [8, 8]));
    const a2 = Array.from(read(a, vals, [8, 8]));
    expect(a1).not.toEqual(a2);
    expect(Array.from(read(b, vals, [8, 8]))).toEqual(a1);
    expect(Array.from(read(b, vals, [8, 8]))).toEqual(a2);
    expect(Array.from(read(c, vals, [8, 8]))).not.toEqual(a1);
    a.resetNoise();
    expect(Array.from(read(a, vals, [8, 8]))).toEqual(a1);
    // Noise off: deterministic.
    const quiet = new Camera({ gain: 3, quantize: true, seed: 9 });
    expect(Array.from(read(quiet, vals, [8, 8]))).toEqual(Array.from(read(quiet, vals, [8, 8])));
  });

  it('shot noise variance = gain * signal; read noise std as set; both at once add their variances', () => {
    const n = 40000;
    const signal = 100;
    /** Sample mean and unbiased variance of a camera readout of n constant intensities. */
    const moments = (cam: Camera, intensity: number): { mean: number; variance: number } => {
      const v = read(cam, new Array(n).fill(intensity), [200, 200]);
      let mean = 0;
      for (const e of v) mean += e;
      mean /= n;
      let variance = 0;
      for (const e of v) variance += (e - mean) ** 2;
      return { mean, variance: variance / (n - 1) };
    };
    // signal in counts = gain * exposure * I = 2 * 50 = 100 -> variance gain * 100 = 200.
    const shot = moments(new Camera({ shotNoise: true, gain: 2, seed: 1 }), signal / 2);
    expect(Math.abs(shot.mean - signal)).toBeLessThan(0.5);
    expect(Math.abs(shot.variance / (2 * signal) - 1)).toBeLessThan(0.05);
    const readOnly = moments(new Camera({ readNoiseStd: 3, seed: 2 }), 0);
    expect(Math.abs(readOnly.mean)).toBeLessThan(0.1);
    expect(Math.sqrt(readOnly.variance)).toBeCloseTo(3, 1);
    // both at once (drawn as one normal): variance gain * signal + readNoiseStd^2 = 200 + 100, mean the signal
    // (either part alone would give 200 or 100)
    const both = new Camera({ shotNoise: true, gain: 2, readNoiseStd: 10, seed: 3 });
    const lit = moments(both, signal / 2);
    expect(Math.abs(lit.mean - signal)).toBeLessThan(0.5);
    expect(Math.abs(lit.variance / (2 * signal + 100) - 1)).toBeLessThan(0.05);
    // no shot noise where there is no signal: read noise alone
    expect(Math.abs(Math.sqrt(moments(both, 0).variance) / 10 - 1)).toBeLessThan(0.02);
  });

  it('backward of the affine readout: scale and mean subtraction', () => {
    const cam = new Camera({ gain: 2, exposure: 3, hardwareNormalize: 'batch-mean' });
    const dy = tf.tensor2d([1, 2, 3, 6], [2, 2]);
    const g = cam.backward(dy).dataSync();
    // centered dy = [-2, -1, 0, 3], times 6 / 255.
    [-2, -1, 0, 3].forEach((e, i) => expect(g[i]).toBeCloseTo((e * 6) / 255, 6));
    const unscaled = cam.backward(dy, false).dataSync();
    [-2, -1, 0, 3].forEach((e, i) => expect(unscaled[i]).toBeCloseTo(e, 6));
    dy.dispose();
  });

  it('rejects bad options with a UserError naming the value', () => {
    expect(() => new Camera({ gain: 0 })).toThrow(/gain = 0/);
    expect(() => new Camera({ readNoiseStd: -1 })).toThrow(UserError);
    expect(() => new Camera({ bitDepth: 40 })).toThrow(/bitDepth = 40/);
    expect(() => new Camera({ hardwareNormalize: 'x' as never })).toThrow(/hardwareNormalize/);
    expect(() => new Camera({ shotnoise: true } as never)).toThrow(/unknown camera option 'shotnoise'/);
  });

  it('keeps the tensor count flat', () => {
    const cam = new Camera({ gain: 2, shotNoise: true, readNoiseStd: 1, quantize: true, hardwareNormalize: 'sample-mean' });
    const x = tf.ones([4, 5]) as tf.Tensor2D;
    cam.read(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      cam.read(x).dispose();
      cam.backward(x).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('optical cost model', () => {
  it('frames per projection, optical time and the linear-mode factor', () => {
    const sign = new OpticalCostModel();
    expect(sign.framesPerProjection).toBe(1);
    expect(sign.opticalTimeSec(2000)).toBeCloseTo(1.0, 9); // 2000 frames at 2 kHz
    const bits = new OpticalCostModel({ encoderFrames: 8, linear: true, frameTimeUs: 1000 });
    expect(bits.framesPerProjection).toBe(40);
    expect(bits.opticalTimeSec(10)).toBeCloseTo(0.4, 9);
    expect(() => new OpticalCostModel({ encoderFrames: 0 })).toThrow(/encoderFrames = 0/);
    expect(() => new OpticalCostModel({ maxOnFraction: 1.5 })).toThrow(/maxOnFraction/);
  });

  it('input density report flags frames above the ON-pixel limit', () => {
    const frames = tf.tensor2d([1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1], [3, 4]);
    const r = inputDensity(frames, 0.6);
    expect(r.meanOnFraction).toBeCloseTo((0.75 + 0.25 + 1) / 3, 6);
    expect(r.maxOnFraction).toBe(1);
    expect(r.saturatedFrames).toBe(2);
    const signed = tf.tensor2d([1, -1, -1, -1], [1, 4]);
    expect(inputDensity(signed, 1, true).meanOnFraction).toBeCloseTo(0.25, 6);
    frames.dispose();
    signed.dispose();
  });
});
