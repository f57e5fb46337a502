import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { binarizeSign } from '../src/optics/encoders';
import { OpticalProcessingUnit, OpuGradientMode, OpuOptions } from '../src/optics/opu';
import { UserError } from '../src/util/errors';
import { makeRng } from '../src/util/rng';

/** tf.grad for functions of a rank-2 input. */
const grad2d = (f: (v: tf.Tensor2D) => tf.Tensor) => tf.grad((v: tf.Tensor) => f(v as tf.Tensor2D));

beforeAll(async () => {
  await initBackend('cpu', true);
});

function signs(rows: number, n: number, seed: number): tf.Tensor2D {
  const rng = makeRng(seed, 'test-signs');
  return tf.tensor2d(Array.from({ length: rows * n }, () => (rng.uniform() < 0.5 ? -1 : 1)), [rows, n]);
}

function reals(rows: number, n: number, seed: number, scale = 1): tf.Tensor2D {
  const rng = makeRng(seed, 'test-reals');
  return tf.tensor2d(Array.from({ length: rows * n }, () => rng.normal() * scale), [rows, n]);
}

/** Dense forward in JS from the oracle matrix: the intensity the OPU should produce (no camera). */
function denseIntensity(opu: OpticalProcessingUnit, x: number[][]): number[][] {
  const { real, imag } = opu.transmission.toArrays();
  const n = opu.inFeatures;
  const m = opu.outFeatures;
  return x.map((row) => {
    const p = opu.mode === 'physical' ? row.map((v) => (v + 1) / 2) : row;
    return Array.from({ length: m }, (_, j) => {
      let re = 0;
      let im = 0;
      for (let i = 0; i < n; i++) {
        re += p[i] * real[i * m + j];
        if (imag) im += p[i] * imag[i * m + j];
      }
      return re * re + im * im;
    });
  });
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  return err / (scale || 1);
}

/** Input gradient of sum(g * opu(x)) through the layer under `mode`. */
function layerGrad(opu: OpticalProcessingUnit, x: tf.Tensor2D, g: tf.Tensor2D, mode: OpuGradientMode): Float32Array {
  const grad = grad2d((v: tf.Tensor2D) => tf.sum(tf.mul(opu.forward(v, mode), g)))(x);
  const out = grad.dataSync() as Float32Array;
  grad.dispose();
  return out;
}

/** Central finite differences of sum(g * readout(x)) w.r.t. x (exact up to rounding for a quadratic). */
function finiteDifferences(opu: OpticalProcessingUnit, x: tf.Tensor2D, g: tf.Tensor2D, h: number): Float64Array {
  const xv = x.arraySync();
  const out = new Float64Array(x.size);
  const f = (rows: number[][]): number =>
    tf.tidy(() => tf.sum(tf.mul(opu.measure(tf.tensor2d(rows)), g)).dataSync()[0]);
  for (let r = 0; r < xv.length; r++) {
    for (let i = 0; i < xv[0].length; i++) {
      const plus = xv.map((row) => row.slice());
      const minus = xv.map((row) => row.slice());
      plus[r][i] += h;
      minus[r][i] -= h;
      out[r * xv[0].length + i] = (f(plus) - f(minus)) / (2 * h);
    }
  }
  return out;
}

describe('OpticalProcessingUnit forward', () => {
  it('reference mode: (xW)^2 on the {-1,+1} input, as the reference SimulatedOpu', () => {
    const opu = new OpticalProcessingUnit({ inFeatures: 6, outFeatures: 10, mode: 'reference', seed: 3, blockSize: 4 });
    const x = signs(3, 6, 1);
    const y = opu.forward(x, 'none');
    expect(maxRelErr(y.dataSync(), denseIntensity(opu, x.arraySync()).flat())).toBeLessThan(1e-5);
    expect(opu.stochastic).toBe(false);
    [x, y].forEach((t) => t.dispose());
    opu.dispose();
  });

  it('physical mode: |pR|^2 with DMD pixels p = (x+1)/2; binary input used as is', () => {
    const opu = new OpticalProcessingUnit({ inFeatures: 7, outFeatures: 9, mode: 'physical', seed: 4 });
    const x = signs(2, 7, 2);
    const y = opu.forward(x);
    expect(maxRelErr(y.dataSync(), denseIntensity(opu, x.arraySync()).flat())).toBeLessThan(1e-5);
    const bin = new OpticalProcessingUnit({ inFeatures: 7, outFeatures: 9, mode: 'physical', seed: 4, inputValues: 'binary' });
    const p = tf.tidy(() => tf.div(tf.add(x, 1), 2) as tf.Tensor2D);
    const yb = bin.forward(p);
    expect(maxRelErr(yb.dataSync(), y.dataSync())).toBeLessThan(1e-6);
    [x, y, p, yb].forEach((t) => t.dispose());
    opu.dispose();
    bin.dispose();
  });

  it('camera stages apply to the projection; noise makes the layer stochastic and seeded', () => {
    const base: OpuOptions = { inFeatures: 8, outFeatures: 12, mode: 'physical', seed: 5 };
    const plain = new OpticalProcessingUnit(base);
    const cam = new OpticalProcessingUnit({ ...base, camera: { gain: 40, quantize: true } });
    const x = signs(4, 8, 3);
    const I = plain.forward(x).dataSync();
    const q = cam.forward(x).dataSync();
    I.forEach((v, i) => expect(q[i]).toBe(Math.min(255, Math.round(40 * v))));
    const noisyA = new OpticalProcessingUnit({ ...base, camera: { gain: 40, shotNoise: true, quantize: true } });
    const noisyB = new OpticalProcessingUnit({ ...base, camera: { gain: 40, shotNoise: true, quantize: true } });
    expect(noisyA.stochastic).toBe(true);
    const a1 = Array.from(noisyA.forward(x).dataSync());
    const a2 = Array.from(noisyA.forward(x).dataSync());
    expect(a1).not.toEqual(a2);
    expect(Array.from(noisyB.forward(x).dataSync())).toEqual(a1);
    x.dispose();
    [plain, cam, noisyA, noisyB].forEach((o) => o.dispose());
  });

  it('counts projections, frames and optical time; checks the input shape', () => {
    const opu = new OpticalProcessingUnit({
      inFeatures: 4,
      outFeatures: 3,
      mode: 'reference',
      seed: 1,
      cost: { encoderFrames: 2, maxOnFraction: 0.5 },
      checkDensity: true,
    });
    const x = tf.tensor2d([
      [1, 1, 1, -1],
      [1, -1, -1, -1],
    ]);
    opu.forward(x).dispose();
    opu.measure(x).dispose();
    expect(opu.projections).toBe(4);
    expect(opu.frames).toBe(8);
    expect(opu.opticalTimeSec()).toBeCloseTo(8 * 500e-6, 12);
    expect(opu.saturatedFrames).toBe(2); // the first row has 3/4 pixels ON, twice
    opu.resetCounters();
    expect(opu.frames).toBe(0);
    const bad = tf.zeros([2, 5]) as tf.Tensor2D;
    expect(() => opu.forward(bad)).toThrow(UserError);
    expect(() => opu.forward(bad)).toThrow(/\[2, 5\]: expected \[batch, 4\]/);
    expect(() => opu.forward(x, 'estimated')).toThrow(/estimateFromQueries/);
    expect(() => opu.forward(x, 'magic' as never)).toThrow(/OPU gradient 'magic'/);
    expect(() => new OpticalProcessingUnit({ inFeatures: 4, outFeatures: 3, mode: 'complex' as never, seed: 1 })).toThrow(/opu mode/);
    [x, bad].forEach((t) => t.dispose());
    opu.dispose();
  });
});

describe('OpticalProcessingUnit gradients', () => {
  for (const mode of ['reference', 'physical'] as const) {
    it(`${mode}: 'true' matches finite differences of the noiseless forward (with camera gain and centering)`, () => {
      for (const camera of [undefined, { gain: 3, exposure: 2, darkOffset: 5, hardwareNormalize: 'batch-mean' as const }]) {
        const opu = new OpticalProcessingUnit({ inFeatures: 5, outFeatures: 7, mode, seed: 6, camera, blockSize: 3 });
        const x = reals(2, 5, 7, 0.7);
        const g = reals(2, 7, 8);
        const analytic = layerGrad(opu, x, g, 'true');
        const numeric = finiteDifferences(opu, x, g, 0.25);
        expect(maxRelErr(analytic, numeric)).toBeLessThan(2e-3);
        expect(Math.max(...Array.from(analytic).map(Math.abs))).toBeGreaterThan(1e-3);
        [x, g].forEach((t) => t.dispose());
        opu.dispose();
      }
    });
  }

  it("'none' is zero; 'random' is g B^T for the stored B (independent of the forward matrix)", () => {
    const opu = new OpticalProcessingUnit({ inFeatures: 5, outFeatures: 6, mode: 'reference', seed: 9, blockSize: 4 });
    const x = signs(3, 5, 4);
    const g = reals(3, 6, 5);
    expect(Array.from(layerGrad(opu, x, g, 'none'))).toEqual(new Array(15).fill(0));
    const random = layerGrad(opu, x, g, 'random');
    const B = opu.randomBackwardMatrix.toArrays().real;
    const W = opu.transmission.toArrays().real;
    expect(maxRelErr(B, W)).toBeGreaterThan(0.1);
    const gv = g.arraySync();
    const expected = gv.flatMap((row) => Array.from({ length: 5 }, (_, i) => row.reduce((s, gj, j) => s + gj * B[i * 6 + j], 0)));
    expect(maxRelErr(random, expected)).toBeLessThan(1e-5);
    // B has the reference's scale N(0,1)/sqrt(n_out): check on a larger draw.
    const big = new OpticalProcessingUnit({ inFeatures: 50, outFeatures: 400, mode: 'physical', seed: 1 });
    const Bb = big.randomBackwardMatrix.toArrays().real;
    const ms = Bb.reduce((s, v) => s + v * v, 0) / Bb.length;
    expect(ms * 400).toBeCloseTo(1, 1);
    [x, g].forEach((t) => t.dispose());
    opu.dispose();
    big.dispose();
  });

  it('works behind binarizeSign with the STE (the BPDA attack path) and ignores camera noise in backward', () => {
    const opu = new OpticalProcessingUnit({
      inFeatures: 6,
      outFeatures: 8,
      mode: 'physical',
      seed: 2,
      camera: { gain: 50, readNoiseStd: 3, quantize: true },
    });
    const h = reals(2, 6, 3);
    const g = reals(2, 8, 4);
    const f = (v: tf.Tensor2D) => tf.sum(tf.mul(opu.forward(binarizeSign(v, { gradient: 'ste' }), 'true'), g));
    const g1 = grad2d(f)(h).dataSync();
    const g2 = grad2d(f)(h).dataSync();
    expect(Array.from(g1)).toEqual(Array.from(g2)); // noise differs per call, the backward does not
    expect(Math.max(...Array.from(g1).map(Math.abs))).toBeGreaterThan(0);
    [h, g].forEach((t) => t.dispose());
    opu.dispose();
  });

  it('keeps the tensor count flat across repeated forward/backward in every mode', () => {
    const opu = new OpticalProcessingUnit({
      inFeatures: 6,
      outFeatures: 9,
      mode: 'physical',
      seed: 2,
      blockSize: 4,
      cacheMatrix: false,
      camera: { gain: 20, shotNoise: true, quantize: true, hardwareNormalize: 'batch-mean' },
    });
    opu.estimateFromQueries(64, 1, { method: 'anchored', anchors: 3, anchorFraction: 1 / 6 });
    const x = signs(3, 6, 1);
    const g = reals(3, 9, 2);
    const run = () => {
      for (const mode of ['none', 'random', 'true', 'estimated'] as const) {
        opu.forward(x, mode).dispose();
        layerGrad(opu, x, g, mode);
      }
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    [x, g].forEach((t) => t.dispose());
    opu.dispose();
  });
});
