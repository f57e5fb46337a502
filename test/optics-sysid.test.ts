import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { spdInverse, symmetricEigen } from '../src/optics/linalg';
import { OpticalProcessingUnit } from '../src/optics/opu';
import { estimateTransmission } from '../src/optics/sysid';
import { gradientCosine, measureSysidQuality } from '../src/optics/sysid-quality';
import { UserError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('cpu', true);
});

describe('small linear algebra', () => {
  it('spdInverse inverts an SPD matrix; symmetricEigen diagonalises a symmetric one', () => {
    const a = Float64Array.from([4, 1, 2, 1, 3, 0.5, 2, 0.5, 5]);
    const inv = spdInverse(a, 3, 0);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += a[i * 3 + k] * inv[k * 3 + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
    // [[2,1],[1,2]] has eigenvalues 3 (vector [1,1]/sqrt2) and 1.
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 10);
    expect(values[1]).toBeCloseTo(1, 10);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 10);
    expect(vectors[0] * vectors[2]).toBeGreaterThan(0);
    const b = Float64Array.from([1, 2, 0, 2, -1, 3, 0, 3, 4]);
    const e = symmetricEigen(b, 3);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) {
        let s = 0;
        for (let j = 0; j < 3; j++) s += b[i * 3 + j] * e.vectors[j * 3 + k];
        expect(s).toBeCloseTo(e.values[k] * e.vectors[i * 3 + k], 8);
      }
    }
  });
});

describe('system identification', () => {
  for (const mode of ['physical', 'reference'] as const) {
    for (const method of ['lifted', 'anchored'] as const) {
      it(`${mode} / ${method}: n_in 16, n_out 32 gives gradient cosine > 0.99`, () => {
        const opu = new OpticalProcessingUnit({ inFeatures: 16, outFeatures: 32, mode, seed: 21 });
        const queries = method === 'lifted' ? 400 : 256;
        const est = opu.estimateFromQueries(queries, 5, { method });
        expect(est.method).toBe(method);
        expect(est.queries).toBeLessThanOrEqual(queries);
        expect(opu.projections).toBe(est.queries); // every query went through the black box
        const q = gradientCosine(opu, { samples: 16, seed: 3 });
        expect(q.meanCosine).toBeGreaterThan(0.99);
        expect(q.minCosine).toBeGreaterThan(0.98);
        opu.dispose();
      });
    }
  }

  it('physical / anchored behind a camera that subtracts each readout\'s mean: the offset it leaves on the core is removed', () => {
    // y_j = q_j - mean_k q_k: the sketch measures M_j - mean M, and mean M is about c I, which puts -c |A| on the
    // core's diagonal and breaks its rank 2; the gradient's own mean subtraction makes the common part irrelevant
    for (const camera of [{ hardwareNormalize: 'sample-mean' as const }, { exposure: 20, shotNoise: true, readNoiseStd: 2, quantize: true, hardwareNormalize: 'sample-mean' as const }]) {
      const rows = measureSysidQuality({ inFeatures: 64, outFeatures: 200, mode: 'physical', seed: 4, method: 'anchored', queryCounts: [2048, 8192], camera, samples: 16 });
      const noiseless = camera.shotNoise === undefined;
      expect(rows[0].meanCosine).toBeGreaterThan(noiseless ? 0.99 : 0.6);
      expect(rows[1].meanCosine).toBeGreaterThan(noiseless ? 0.99 : Math.max(0.9, rows[0].meanCosine));
    }
  });

  it('too few queries give a poor estimate (the quality measure can fail)', () => {
    const opu = new OpticalProcessingUnit({ inFeatures: 16, outFeatures: 32, mode: 'physical', seed: 21 });
    opu.estimateFromQueries(20, 5, { method: 'lifted' });
    expect(gradientCosine(opu, { samples: 16, seed: 3 }).meanCosine).toBeLessThan(0.9);
    opu.dispose();
  });

  it('noisy 8-bit camera: quality grows with the query budget', () => {
    const rows = measureSysidQuality({
      inFeatures: 16,
      outFeatures: 32,
      mode: 'physical',
      seed: 4,
      method: 'anchored',
      queryCounts: [64, 1024],
      camera: { exposure: 1000, gain: 0.01, shotNoise: true, readNoiseStd: 1, quantize: true },
      samples: 16,
    });
    expect(rows[1].meanCosine).toBeGreaterThan(rows[0].meanCosine);
    expect(rows[1].meanCosine).toBeGreaterThan(0.95);
  });

  it('is deterministic for a seed, and rejects bad options', () => {
    const opu = new OpticalProcessingUnit({ inFeatures: 8, outFeatures: 4, mode: 'reference', seed: 2 });
    const a = estimateTransmission(opu, { queries: 48, seed: 1, method: 'anchored', anchors: 3 });
    const b = estimateTransmission(opu, { queries: 48, seed: 1, method: 'anchored', anchors: 3 });
    expect(Array.from(a.factors[0])).toEqual(Array.from(b.factors[0]));
    expect(() => estimateTransmission(opu, { queries: 0, seed: 1 })).toThrow(/queries = 0/);
    expect(() => estimateTransmission(opu, { queries: 10, seed: 1, method: 'x' as never })).toThrow(UserError);
    expect(() => estimateTransmission(opu, { queries: 10, seed: 1, method: 'anchored', anchors: 2 })).toThrow(/anchors = 2/);
    const big = { inFeatures: 200, outFeatures: 1, mode: 'physical' as const, inputValues: 'signed' as const, measure: (x: tf.Tensor2D) => x };
    expect(() => estimateTransmission(big, { queries: 10, seed: 1, method: 'lifted' })).toThrow(/n_in = 200/);
    opu.setEstimate(null);
    expect(opu.estimate).toBeNull();
    opu.dispose();
  });
});
