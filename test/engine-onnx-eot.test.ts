/**
 * EOT in one ONNX Runtime graph (src/engine/builder.ts, OrtClassifier.expectedLossAndGradient): against a noisy
 * camera the graph runs the features and the OPU's intensity once and the camera and head on k copies. It must
 * give the mean of k separate gradient calls with the same noise draws, for every gradient path (the DFA signal
 * below the tiled rows included), both camera centerings, chunked runs, and leave the noise stream where k
 * separate calls leave it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor, resolveGradientMode } from '../src/models/classifier';
import { OrtClassifier } from '../src/engine/classifier';
import { buildGraph } from '../src/engine/builder';
import { describeModel } from '../src/engine/describe';
import { networkWeights } from '../src/engine/weights';
import { openSessionCount } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import { withEot, EotClassifier } from '../attacks/eot';
import { attackedClassifier } from '../src/parallel/attacked-classifier';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';
import { eotVariance, rowCosines, signAgreement } from '../src/bench/eot-variance';

const noisy = { shotNoise: true, readNoiseStd: 2, gain: 30 };
const tiny = (p: Partial<ModelConfig>): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 3, defense: 'optical', training: 'hybrid', camera: noisy, ...p });

let x: tf.Tensor4D;
let y: tf.Tensor1D;
let targets: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([5, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  y = tf.tensor1d([0, 3, 7, 9, 1], 'int32');
  targets = tf.tensor1d([1, 4, 2, 0, 5], 'int32');
});
afterAll(() => tf.dispose([x, y, targets]));

/** The mean of k separate lossAndGradient calls (what EOT computes without the fast path). */
function separateMean(ort: OrtClassifier, labels: tf.Tensor1D, fn: ReturnType<typeof lossFor>, k: number): { loss: Float32Array; grad: Float32Array; single: Float32Array } {
  let loss: Float32Array | null = null;
  let grad: Float32Array | null = null;
  let single: Float32Array | null = null;
  for (let s = 0; s < k; s++) {
    const r = ort.lossAndGradient(x, labels, fn);
    const [l, g] = [r.loss.dataSync() as Float32Array, r.grad.dataSync() as Float32Array];
    single ??= Float32Array.from(g);
    loss = loss ? loss.map((v, i) => v + l[i]) : Float32Array.from(l);
    grad = grad ? grad.map((v, i) => v + g[i]) : Float32Array.from(g);
    tf.dispose([r.loss, r.grad]);
  }
  return { loss: loss!.map((v) => v / k), grad: grad!.map((v) => v / k), single: single! };
}

/** The camera stream's next draw (to check both ways leave it at the same place). */
function nextDraw(net: Network): Float32Array {
  const n = net.opu!.camera.drawNoise([1, 4])!;
  const v = Float32Array.from(n.dataSync());
  n.dispose();
  return v;
}

/** Paths whose input gradient is zero (checked below: not all of them). */
const zeroPaths: string[] = [];

function compareEot(cfg: ModelConfig, modes: string[], k: number, maxEotRows?: number): void {
  const net = new Network(cfg);
  perturb(net, 11);
  try {
    for (const mode of modes) {
      const ref = classifierFor(net, mode, 'ste', 7);
      const ort = new OrtClassifier(net, resolveGradientMode(net, mode, 'ste'), ref, { threads: 1, announce: false, maxEotRows });
      try {
        expect(ort.expectedLossAndGradient).toBeDefined();
        for (const [loss, targeted] of [['ce', false], ['dlr', true]] as const) {
          const fn = lossFor(loss, targeted, y);
          const labels = targeted ? targets : y;
          net.opu!.camera.reseedNoise(5);
          const a = separateMean(ort, labels, fn, k);
          const afterSeparate = nextDraw(net);
          net.opu!.camera.reseedNoise(5);
          const b = ort.expectedLossAndGradient!(x, labels, fn, k);
          const afterOne = nextDraw(net);
          const what = `${cfg.defense}/${cfg.training}/${cfg.opuMode} ${mode} ${loss}${targeted ? ' targeted' : ''}`;
          const gErr = relErr(b.grad.dataSync(), a.grad);
          const lErr = relErr(b.loss.dataSync(), a.loss);
          if (!(gErr < 1e-4 && lErr < 1e-5)) throw new Error(`${what}: EOT grad rel err ${gErr}, loss rel err ${lErr}`);
          expect(Array.from(afterOne)).toEqual(Array.from(afterSeparate));
          // the noise matters (else the comparison would hold for any draws): one draw's gradient is not the mean
          // (a path that gives no input gradient at all, as 'true' through the binarization, has nothing to average)
          if (a.grad.some((v) => v !== 0)) expect(relErr(a.single, a.grad)).toBeGreaterThan(1e-3);
          else zeroPaths.push(what);
          tf.dispose([b.loss, b.grad]);
        }
      } finally {
        ort.dispose();
      }
    }
  } finally {
    net.dispose();
  }
}

describe('EOT in one ONNX Runtime graph', () => {
  it('equals the mean of k separate calls under every gradient mode (hybrid, reference OPU)', () =>
    compareEot(tiny({}), ['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-estimated:600'], 4));
  it('physical OPU, 8-bit camera with per-sample and per-batch hardware normalization; DFA training (signal below the tiled rows)', () => {
    compareEot(tiny({ opuMode: 'physical', camera: { ...noisy, exposure: 20, gain: 1, quantize: true, hardwareNormalize: 'sample-mean' } }), ['natural', 'bpda-true'], 3);
    compareEot(tiny({ camera: { ...noisy, quantize: true, hardwareNormalize: 'batch-mean' } }), ['bpda-true', 'bpda-random'], 3);
    compareEot(tiny({ training: 'dfa' }), ['natural'], 3);
  });
  it('the dfa-projection ablation (a noisy camera without binarization)', () => compareEot(tiny({ defense: 'dfa-projection' }), ['true', 'bpda-random'], 3));
  it('more copies than one run holds: equal chunks, the same mean', () => compareEot(tiny({}), ['bpda-true'], 6, 2 * 5));
  // 'true' differentiates the binarization as written (zero almost everywhere); every other path carries a gradient
  it("only 'true' through a binarizing head gave a zero gradient", () => {
    expect(zeroPaths.length).toBeGreaterThan(0);
    expect(zeroPaths.filter((w) => !/^optical\/.* true /.test(w))).toEqual([]);
  });

  it('EotClassifier takes the fast path: k samples in one graph run; tensors and sessions flat', () => {
    const net = new Network(tiny({}));
    const ref = classifierFor(net, 'bpda-true');
    const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-true'), ref, { threads: 1, announce: false });
    const eot = withEot(ort, { samples: 8 });
    const fn = lossFor('ce', false);
    const step = (): void => {
      const r = eot.lossAndGradient!(x, y, fn);
      tf.dispose([r.loss, r.grad]);
    };
    step();
    const tensors = tf.memory().numTensors;
    const sessions = openSessionCount();
    const runs = ort.runs;
    for (let i = 0; i < 20; i++) step();
    expect(ort.runs - runs).toBe(20);
    expect(eot.samplesDrawn).toBe(21 * 8);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(openSessionCount()).toBe(sessions);
    ort.dispose();
    net.dispose();
  });

  it('attack jobs get it: the attacked classifier of a noisy model on ONNX Runtime is EOT over the one-graph path', () => {
    const net = new Network(tiny({}));
    try {
      const c = attackedClassifier(net, { gradient: 'bpda-true', signSurrogate: 'ste', eot: 20, seed: 0, engine: 'onnxruntime', engineThreads: 1 });
      expect(c).toBeInstanceOf(EotClassifier);
      const inner = (c as EotClassifier).inner as OrtClassifier;
      expect(inner).toBeInstanceOf(OrtClassifier);
      const runs = inner.runs;
      const r = c.lossAndGradient!(x, y, lossFor('ce', false));
      tf.dispose([r.loss, r.grad]);
      expect(inner.runs - runs).toBe(1);
      expect((c as EotClassifier).samplesDrawn).toBe(20);
      inner.dispose();
    } finally {
      net.dispose();
    }
  });

  it('is absent for a deterministic model, and a graph refuses EOT copies without a noisy camera', () => {
    const net = new Network(tiny({ camera: {} }));
    try {
      const ref = classifierFor(net, 'bpda-true');
      const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-true'), ref, { threads: 1, announce: false });
      expect(ort.expectedLossAndGradient).toBeUndefined();
      ort.dispose();
      const path = resolveGradientMode(net, 'bpda-true', 'ste').path;
      expect(() => buildGraph(describeModel(net.config, net.defense), networkWeights(net), { kind: 'grad', path, loss: { name: 'ce', targeted: false }, eot: 4 })).toThrow(/noisy camera/);
    } finally {
      net.dispose();
    }
  });

  it('eot-variance: more samples agree better with a large-sample reference; a deterministic model is refused', () => {
    // hand cases of the two measures
    expect(rowCosines(Float32Array.from([1, 0, 0, 2]), Float32Array.from([1, 0, 0, -2]), 2)).toEqual([1, -1]);
    expect(signAgreement(Float32Array.from([1, -1, 0, 2]), Float32Array.from([3, 1, 0, -2]))).toBe(0.5);
    const net = new Network(tiny({ camera: { shotNoise: true, readNoiseStd: 20, gain: 30 } }));
    perturb(net, 11);
    const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-true'), classifierFor(net, 'bpda-true'), { threads: 1, announce: false });
    try {
      const [one, many] = eotVariance(ort, x, y, [1, 16], 'bpda-true');
      expect(one.reference_samples).toBe(64);
      expect(one.cosine_to_reference).toBeLessThan(0.99);
      expect(many.cosine_to_reference).toBeGreaterThan(one.cosine_to_reference);
      expect(many.sign_agreement).toBeGreaterThan(one.sign_agreement);
      expect(many.cosine_between_estimates).toBeGreaterThan(one.cosine_between_estimates);
    } finally {
      ort.dispose();
      net.dispose();
    }
    const det = new Network(tiny({ camera: {} }));
    const dc = new OrtClassifier(det, resolveGradientMode(det, 'bpda-true'), classifierFor(det, 'bpda-true'), { threads: 1, announce: false });
    expect(() => eotVariance(dc, x, y, [1], 'bpda-true')).toThrow(/deterministic/);
    dc.dispose();
    det.dispose();
  });
});
