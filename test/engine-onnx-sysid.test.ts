/**
 * System identification on ONNX Runtime: the queries bpda-estimated makes to the OPU (src/optics/sysid.ts) answered
 * by the OPU + camera graph (src/engine/opu-queries.ts) against the OPU layer's own tfjs readout, in reference and
 * physical mode, with a noiseless and a noisy camera (noise drawn from the camera's seeded stream): the same
 * readouts, the same estimate for the same seed, and the same bpda-estimated gradients of a model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { OpticalProcessingUnit, OpuOptions } from '../src/optics/opu';
import type { TransmissionEstimate } from '../src/optics/sysid';
import { OrtOpuQueries } from '../src/engine/opu-queries';
import { openSessionCount } from '../src/engine/session';
import { engineClassifier, releaseEngine } from '../src/engine';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor } from '../src/models/classifier';
import { lossFor } from '../attacks/losses';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';

beforeAll(async () => {
  await initBackend('wasm', true);
});

const NOISY = { shotNoise: true, readNoiseStd: 1.5, gain: 20 };
const CAMERAS: [string, OpuOptions['camera']][] = [
  ['noiseless', undefined],
  ['noisy', NOISY],
  ['noisy, hardware-normalized', { ...NOISY, hardwareNormalize: 'sample-mean' as const }],
];
// (An 8-bit quantizing camera agrees too on this machine, but a readout within one ulp of a half count may round
// to the other side on another CPU's matrix kernels, so it is not asserted to float tolerance.)

/** Each factor matrix's M_j = sum_k a_jk a_jk^T is what the gradient uses (a factor's sign is not identified). */
function quadraticForms(e: TransmissionEstimate): Float32Array {
  const { inFeatures: n, outFeatures: m } = e;
  const out = new Float32Array(m * n * n);
  for (const f of e.factors) for (let j = 0; j < m; j++) for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) out[(j * n + a) * n + b] += f[a * m + j] * f[b * m + j];
  return out;
}

describe('OPU queries on ONNX Runtime', () => {
  for (const mode of ['reference', 'physical'] as const) {
    for (const [label, camera] of CAMERAS) {
      it(`${mode}, ${label} camera: same readouts and the same estimate from the same seed (anchored and lifted)`, () => {
        const opu = new OpticalProcessingUnit({ inFeatures: 24, outFeatures: 40, mode, seed: 21, camera });
        const ort = new OrtOpuQueries(opu, { threads: 1, announce: false });
        const sessions = openSessionCount();
        try {
          const x = tf.tidy(() => tf.sub(tf.mul(tf.cast(tf.greater(tf.randomUniform([30, 24], 0, 1, 'float32', 4), 0.5), 'float32'), 2), 1) as tf.Tensor2D);
          opu.camera.resetNoise();
          const a = opu.measure(x);
          opu.camera.resetNoise();
          const b = ort.measure(x);
          expect(relErr(b.dataSync(), a.dataSync())).toBeLessThan(1e-5);
          expect(opu.projections).toBe(60); // both count as device use
          tf.dispose([x, a, b]);
          for (const method of ['anchored', 'lifted'] as const) {
            opu.camera.resetNoise();
            const ref = opu.estimateFromQueries(600, 9, { method });
            opu.camera.resetNoise();
            const before = ort.runs;
            const got = opu.estimateFromQueries(600, 9, { method }, ort);
            expect(ort.runs).toBeGreaterThan(before);
            expect(got.queries).toBe(ref.queries);
            const err = relErr(quadraticForms(got), quadraticForms(ref));
            if (!(err < 1e-3)) throw new Error(`${mode} ${label} ${method}: estimate rel err ${err}`);
            if (opu.camera.stochastic) {
              // other noise draws give another estimate: the agreement above is the shared noise stream's
              const other = opu.estimateFromQueries(600, 9, { method }, ort);
              expect(relErr(quadraticForms(other), quadraticForms(ref))).toBeGreaterThan(1e-3);
            }
          }
          expect(openSessionCount()).toBe(sessions + 1);
        } finally {
          ort.dispose();
          opu.dispose();
        }
        expect(openSessionCount()).toBe(sessions);
      });
    }
  }
});

describe('bpda-estimated on ONNX Runtime', () => {
  const tiny = (p: Partial<ModelConfig>): ModelConfig =>
    defaultModelConfig({ architecture: 'vgg11', width: 0.125, defense: 'optical', training: 'hybrid', opuIn: 32, opuOut: 64, dropout: 0, seed: 3, ...p });

  it.each([
    ['reference', undefined],
    ['physical', NOISY],
  ] as const)('%s mode: the estimate from ORT queries and the gradients it gives agree with tfjs', (opuMode, camera) => {
    const cfg = tiny({ opuMode, ...(camera ? { camera } : {}) });
    const x = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.tensor1d([0, 3, 7, 9, 1, 2], 'int32');
    const refNet = new Network(cfg);
    const ortNet = new Network(cfg);
    perturb(refNet, 11);
    perturb(ortNet, 11);
    const measured = jest.spyOn(OpticalProcessingUnit.prototype, 'measure');
    try {
      const ref = classifierFor(refNet, 'bpda-estimated:800', 'ste', 9);
      const tfjsQueries = measured.mock.calls.length;
      expect(tfjsQueries).toBeGreaterThan(0);
      const ort = engineClassifier(ortNet, 'bpda-estimated:800', 'ste', 9, 'onnxruntime', { threads: 1 });
      // the ORT classifier's estimate came from ORT queries, not from the layer's tfjs readout
      expect(measured.mock.calls.length).toBe(tfjsQueries);
      expect(ortNet.opu!.projections).toBe(refNet.opu!.projections);
      expect(relErr(quadraticForms(ortNet.opu!.estimate!), quadraticForms(refNet.opu!.estimate!))).toBeLessThan(1e-3);
      expect(ort.gradientMode).toBe('bpda-estimated:800');
      refNet.opu!.camera.reseedNoise(2);
      ortNet.opu!.camera.reseedNoise(2);
      for (const loss of ['ce', 'dlr'] as const) {
        const a = ref.lossAndGradient(x, y, lossFor(loss, false));
        const b = ort.lossAndGradient!(x, y, lossFor(loss, false));
        expect(Math.max(...Array.from(a.grad.dataSync(), Math.abs))).toBeGreaterThan(0);
        expect(relErr(b.grad.dataSync(), a.grad.dataSync())).toBeLessThan(1e-3);
        expect(relErr(b.loss.dataSync(), a.loss.dataSync())).toBeLessThan(1e-4);
        tf.dispose([a.grad, a.loss, b.grad, b.loss]);
      }
    } finally {
      measured.mockRestore();
      releaseEngine(ortNet);
      refNet.dispose();
      ortNet.dispose();
      tf.dispose([x, y]);
    }
  });
});
