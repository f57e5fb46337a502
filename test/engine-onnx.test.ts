/**
 * The ONNX Runtime engine against the tfjs path on the same weights: logits, predictions and input gradients for
 * every gradient mode, loss and target setting, on VGG and RepVGG backbones and every built-in head.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor, resolveGradientMode } from '../src/models/classifier';
import { OrtClassifier } from '../src/engine/classifier';
import { describeModel } from '../src/engine/describe';
import { openSessionCount } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import { QueryCounter } from '../attacks/query-counter';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveCheckpoint } from '../src/training/checkpoint';
import { evaluateAttackParallel, EvalJob } from '../src/parallel/evaluate-parallel';
import { resolveEngine, threadsPerWorker } from '../src/engine';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';


const tiny = (p: Partial<ModelConfig>): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 3, ...p });

let x: tf.Tensor4D;
let y: tf.Tensor1D;
let targets: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  y = tf.tensor1d([0, 3, 7, 9, 1, 2], 'int32');
  targets = tf.tensor1d([1, 4, 2, 0, 5, 8], 'int32');
});
afterAll(() => tf.dispose([x, y, targets]));

function compare(cfg: ModelConfig, modes: string[], signSurrogate = 'ste'): void {
  const net = new Network(cfg);
  perturb(net, 11);
  try {
    for (const mode of modes) {
      const ref = classifierFor(net, mode, signSurrogate, 7);
      const ort = new OrtClassifier(net, resolveGradientMode(net, mode, signSurrogate), ref, { threads: 1, announce: false });
      try {
        const lr = ref.logits(x);
        const lo = ort.logits(x);
        expect(relErr(lo.dataSync(), lr.dataSync())).toBeLessThan(1e-4);
        expect(Array.from(tf.argMax(lo, 1).dataSync())).toEqual(Array.from(tf.argMax(lr, 1).dataSync()));
        tf.dispose([lr, lo]);
        for (const [loss, targeted] of [['ce', false], ['cw', false], ['dlr', false], ['ce', true], ['cw', true], ['dlr', true]] as const) {
          const fn = lossFor(loss, targeted, y);
          const labels = targeted ? targets : y;
          const a = ref.lossAndGradient(x, labels, fn);
          const b = ort.lossAndGradient(x, labels, fn);
          const what = `${cfg.architecture}/${cfg.defense}/${cfg.training} ${mode} ${loss}${targeted ? ' targeted' : ''}`;
          const gErr = relErr(b.grad.dataSync(), a.grad.dataSync());
          const lErr = relErr(b.loss.dataSync(), a.loss.dataSync());
          if (!(gErr < 1e-3 && lErr < 1e-4)) throw new Error(`${what}: grad rel err ${gErr}, loss rel err ${lErr}`);
          tf.dispose([a.loss, a.grad, b.loss, b.grad]);
        }
      } finally {
        ort.dispose();
      }
    }
  } finally {
    net.dispose();
  }
}

describe('ONNX engine equivalence (seeded models)', () => {
  it('baseline VGG, bp', () => compare(tiny({ defense: 'none', training: 'bp' }), ['natural']));
  it('baseline VGG, hybrid and per-layer DFA', () => {
    compare(tiny({ defense: 'none', training: 'hybrid' }), ['natural', 'true']);
    compare(tiny({ defense: 'none', training: 'dfa' }), ['natural']);
  });
  it('optical head, reference mode, every gradient mode', () =>
    compare(tiny({ defense: 'optical', training: 'hybrid' }), ['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-none', 'bpda-estimated:600']));
  it('optical head, physical mode, tanh sign, batch-mean center', () => {
    compare(tiny({ defense: 'optical', training: 'hybrid', opuMode: 'physical' }), ['bpda-true', 'bpda-random'], 'tanh:5');
    compare(tiny({ defense: 'optical', training: 'hybrid', binarizeCenter: 'batch-mean' }), ['bpda-true']);
    compare(tiny({ defense: 'optical', training: 'hybrid', binarizeCenter: 'sample-mean' }), ['bpda-true']);
  });
  it('camera: gain, 8-bit quantization, saturation, hardware normalization', () =>
    compare(tiny({ defense: 'optical', training: 'hybrid', camera: { gain: 40, quantize: true, hardwareNormalize: 'batch-mean' } }), ['bpda-true', 'bpda-random']));
  it('ablation heads', () => {
    compare(tiny({ defense: 'dfa-only', training: 'hybrid' }), ['natural', 'true']);
    compare(tiny({ defense: 'dfa-binarize', training: 'hybrid' }), ['bpda-none']);
    compare(tiny({ defense: 'dfa-projection', training: 'hybrid' }), ['true', 'bpda-random']);
  });
  it('RepVGG, train form (fused for the graph) and deploy form', () => {
    compare(tiny({ architecture: 'repvgg-a0', defense: 'none', training: 'bp' }), ['natural']);
    compare(tiny({ architecture: 'repvgg-a0', defense: 'optical', training: 'dfa' }), ['natural', 'bpda-true']);
  });
});

describe('ONNX engine: noise, sessions, memory', () => {
  it('a noisy camera draws the same noise stream as the tfjs path', () => {
    const cfg = tiny({ defense: 'optical', training: 'hybrid', camera: { shotNoise: true, readNoiseStd: 2, gain: 30 } });
    const net = new Network(cfg);
    try {
      const ref = classifierFor(net, 'bpda-true');
      const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-true'), ref, { threads: 1, announce: false });
      net.opu!.camera.reseedNoise(5);
      const a1 = ref.logits(x);
      const a2 = ref.logits(x);
      net.opu!.camera.reseedNoise(5);
      const b1 = ort.logits(x);
      const b2 = ort.logits(x);
      expect(relErr(b1.dataSync(), a1.dataSync())).toBeLessThan(1e-4);
      expect(relErr(b2.dataSync(), a2.dataSync())).toBeLessThan(1e-4);
      // and the draws differ between calls (the test would pass vacuously otherwise)
      expect(relErr(a2.dataSync(), a1.dataSync())).toBeGreaterThan(1e-3);
      tf.dispose([a1, a2, b1, b2]);
      ort.dispose();
    } finally {
      net.dispose();
    }
  });

  it('tensors and sessions stay flat over 1000 attack steps; dispose releases every session', () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const ref = classifierFor(net, 'bpda-random');
    const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-random'), ref, { threads: 1, announce: false, maxSessions: 2 });
    const fn = lossFor('ce', false);
    const step = (): void => {
      const r = ort.lossAndGradient(x, y, fn);
      tf.dispose([r.loss, r.grad]);
      tf.dispose(ort.logits(x));
    };
    const before = openSessionCount();
    step();
    const tensors = tf.memory().numTensors;
    const sessions = openSessionCount();
    for (let i = 0; i < 1000; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(openSessionCount()).toBe(sessions);
    expect(sessions - before).toBe(2);
    // a third graph (another loss) evicts the least recently used session
    const r = ort.lossAndGradient(x, y, lossFor('cw', false));
    tf.dispose([r.loss, r.grad]);
    expect(ort.openSessions).toBe(2);
    ort.dispose();
    expect(openSessionCount()).toBe(before);
    net.dispose();
  });

  it('other batch sizes share one dynamic-batch graph; the plain-array path gives the same logits', async () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    perturb(net, 4);
    const ref = classifierFor(net, 'bpda-true');
    const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-true'), ref, { threads: 1, announce: false });
    try {
      const full = ort.logits(x);
      expect(ort.openSessions).toBe(1);
      for (const n of [5, 3, 1, 4]) {
        const part = tf.slice(x, [0, 0, 0, 0], [n, -1, -1, -1]);
        const a = ref.logits(part);
        const b = ort.logits(part);
        expect(relErr(b.dataSync(), a.dataSync())).toBeLessThan(1e-4);
        // the dynamic graph gives each image the numbers the fixed one does
        expect(relErr(b.dataSync(), full.dataSync().subarray(0, n * 10))).toBeLessThan(1e-6);
        tf.dispose([part, a, b]);
      }
      // the first size's fixed graph + one dynamic graph, however many sizes came
      expect(ort.openSessions).toBe(2);
      expect(Array.from(ort.logitsArray(x.dataSync() as Float32Array, 6))).toEqual(Array.from(full.dataSync()));
      // a query attack's counter takes the plain-array path: no logits tensor per query
      const counter = new QueryCounter(ort, 6, 10);
      const spy = jest.spyOn(ort, 'logits');
      const owners = Int32Array.from([0, 1, 2, 3, 4, 5]);
      const scores = await counter.scores(x.dataSync() as Float32Array, owners);
      expect(spy).not.toHaveBeenCalled();
      expect(Array.from(scores)).toEqual(Array.from(full.dataSync()));
      // split by maxRowsPerCall: the same numbers
      const split = await new QueryCounter(ort, 6, 10, { maxRowsPerCall: 4 }).scores(x.dataSync() as Float32Array, owners);
      expect(relErr(split, full.dataSync())).toBeLessThan(1e-6);
      spy.mockRestore();
      full.dispose();
    } finally {
      ort.dispose();
      net.dispose();
    }
  });

  it('describes every built-in head with no part left to tfjs (plugins: test/engine-onnx-plugins.test.ts)', () => {
    for (const defense of ['none', 'optical', 'dfa-only', 'dfa-binarize', 'dfa-projection']) {
      const d = describeModel(tiny({ defense, training: 'hybrid' }));
      expect(d.unsupported).toEqual([]);
      expect(d.inputTransform).toBeNull();
      expect(d.head.length).toBeGreaterThan(0);
    }
  });
});

describe('ONNX engine in evaluation jobs', () => {
  it('worker threads (one session each, cores / workers threads) give the same records as one thread', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-ort-eval-'));
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    perturb(net, 5);
    saveCheckpoint(root, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
    net.dispose();
    const job = (engine: 'tfjs' | 'onnxruntime', workers: number): EvalJob => ({
      checkpointDir: root,
      gradientMode: 'bpda-true',
      signSurrogate: 'ste',
      attack: 'pgd',
      attackParams: { steps: 3 },
      epsPixel: [0.01, 0.03],
      epsSpace: 'pixel',
      epsInSpace: [0.01, 0.03],
      dataset: { name: 'synthetic', split: 'test', indices: [7, 3, 12, 0, 5, 9, 21, 4] },
      batchSize: 4,
      seed: 11,
      modelId: 'tiny',
      engine,
      engineThreads: threadsPerWorker(workers, 2),
    });
    const records = (runs: Awaited<ReturnType<typeof evaluateAttackParallel>>) => runs.map((r) => r.perSample);
    const one = await evaluateAttackParallel(job('onnxruntime', 1), { workers: 1 });
    const two = await evaluateAttackParallel(job('onnxruntime', 2), { workers: 2 });
    const ref = await evaluateAttackParallel(job('tfjs', 1), { workers: 1 });
    expect(records(two)).toEqual(records(one));
    // and the engines agree on every example's outcome
    expect(one.map((r) => r.perSample.map((p) => p.success))).toEqual(ref.map((r) => r.perSample.map((p) => p.success)));
    expect(threadsPerWorker(2, 2)).toBe(1);
    expect(threadsPerWorker(3, 16)).toBe(5);
    expect(resolveEngine(tiny({}), 'auto').engine).toBe('onnxruntime');
    expect(resolveEngine(tiny({}), 'tfjs').engine).toBe('tfjs');
  });
});
