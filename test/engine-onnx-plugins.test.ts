/**
 * Defense plugins on the ONNX Runtime engine: the plugin's JavaScript input transform (and its surrogate) runs on
 * tfjs in front of the ONNX graph of normalization + backbone + head. Against the tfjs engine on the same weights,
 * with the shipped example plugins (examples/plugins/) and one of them on the optical head: logits, predictions and
 * input gradients under every gradient mode the plugin model exposes, the seed stream of a stochastic transform,
 * PGD results, flat tensors and sessions, and the engine choice and its notice.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { classifierFor, gradientModesOf, resolveGradientMode } from '../src/models/classifier';
import { applyDefensePlugin, loadDefensePlugin, resolveAttack } from '../src/plugins';
import { OrtClassifier } from '../src/engine/classifier';
import { describeModel } from '../src/engine/describe';
import { openSessionCount } from '../src/engine/session';
import { announceEngine, resolveEngine } from '../src/engine';
import { exportModel } from '../src/engine/export';
import { lossFor } from '../attacks/losses';
import { saveCheckpoint } from '../src/training/checkpoint';
import { evaluateAttackParallel, EvalJob } from '../src/parallel/evaluate-parallel';
import type { Classifier } from '../src/types';
import { relErr } from './helpers/numeric';
import { perturb } from './helpers/perturb';

const EXAMPLES = path.join(__dirname, '..', 'examples', 'plugins');
const BIT_DEPTH = path.join(EXAMPLES, 'bit-depth-defense.js');
const BIT_DEPTH_NOISE = path.join(EXAMPLES, 'bit-depth-noise-defense.js');
const RESIZE_PAD = path.join(EXAMPLES, 'random-resize-pad-defense.js');

const tiny = (p: Partial<ModelConfig> = {}): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 3, ...p });

let tmp: string;
/** bit-depth + noise (stochastic, its own surrogate function) on the optical head. */
let OPTICAL_NOISE: string;
/** random resize + pad (differentiable) on the optical head. */
let OPTICAL_RESIZE: string;
let x: tf.Tensor4D;
let y: tf.Tensor1D;
let targets: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-ort-plugins-'));
  OPTICAL_NOISE = path.join(tmp, 'bit-depth-noise-optical.js');
  fs.writeFileSync(OPTICAL_NOISE, `module.exports = { ...require(${JSON.stringify(BIT_DEPTH_NOISE)}), name: 'bit-depth-noise-optical', head: 'optical' };\n`);
  OPTICAL_RESIZE = path.join(tmp, 'random-resize-pad-optical.js');
  fs.writeFileSync(OPTICAL_RESIZE, `module.exports = { ...require(${JSON.stringify(RESIZE_PAD)}), name: 'random-resize-pad-optical', head: 'optical' };\n`);
  x = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  y = tf.tensor1d([0, 3, 7, 9, 1, 2], 'int32');
  targets = tf.tensor1d([1, 4, 2, 0, 5, 8], 'int32');
});
afterAll(() => {
  process.stdout.write(`ONNX (plugin transform on tfjs) vs tfjs maxima: ${JSON.stringify(maxima)}\n`);
  tf.dispose([x, y, targets]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function pluginConfig(file: string, params: Record<string, unknown> = {}, p: Partial<ModelConfig> = {}): ModelConfig {
  return applyDefensePlugin(tiny(p), loadDefensePlugin(file, params));
}

/** A seeded network of the plugin model; disposed after `f`. */
function withNet<T>(cfg: ModelConfig, f: (net: Network) => T): T {
  const net = new Network(cfg);
  perturb(net, 11);
  try {
    return f(net);
  } finally {
    net.dispose();
  }
}

async function withNetAsync<T>(cfg: ModelConfig, f: (net: Network) => Promise<T>): Promise<T> {
  const net = new Network(cfg);
  perturb(net, 11);
  try {
    return await f(net);
  } finally {
    net.dispose();
  }
}

/** Restart every random stream of the model (the transform's and the camera's), so two engines see the same draws. */
function reseed(net: Network): void {
  net.resetInputTransformNoise();
  net.opu?.camera.reseedNoise(5);
}

/** The largest engine differences seen, printed at the end (relative to the tensor's max |value|). */
const maxima: Record<string, number> = {};

const LOSSES = [['ce', false], ['cw', false], ['dlr', false], ['ce', true], ['dlr', true]] as const;

/**
 * Both engines under every gradient mode the model exposes: logits (1e-4), predictions, per-example losses (1e-4)
 * and input gradients (1e-3) of every loss, each engine starting from the same seeds. Returns the largest errors
 * and the largest |gradient| seen per mode (so a test can check a gradient is not vacuously zero).
 */
function compareAllModes(cfg: ModelConfig, only?: string[]): Record<string, { logits: number; grad: number; loss: number; gradScale: number }> {
  return withNet(cfg, (net) => {
    const declared = gradientModesOf(net).map((m) => (m.argument ? `${m.name}:600` : m.name));
    const modes = only ?? declared;
    for (const m of modes) expect(declared).toContain(m);
    const out: Record<string, { logits: number; grad: number; loss: number; gradScale: number }> = {};
    for (const mode of modes) {
      const ref = classifierFor(net, mode, 'ste', 7);
      const ort = new OrtClassifier(net, resolveGradientMode(net, mode), ref, { threads: 1, announce: false });
      const run = (c: Classifier): { logits: Float32Array; pred: number[]; grads: Float32Array[]; losses: Float32Array[] } => {
        reseed(net);
        const l = c.logits(x);
        const r = { logits: l.dataSync() as Float32Array, pred: Array.from(tf.argMax(l, 1).dataSync()), grads: [] as Float32Array[], losses: [] as Float32Array[] };
        l.dispose();
        for (const [loss, targeted] of LOSSES) {
          const g = c.lossAndGradient!(x, targeted ? targets : y, lossFor(loss, targeted, y));
          r.grads.push(g.grad.dataSync() as Float32Array);
          r.losses.push(g.loss.dataSync() as Float32Array);
          tf.dispose([g.grad, g.loss]);
        }
        return r;
      };
      try {
        const a = run(ref);
        const b = run(ort);
        expect(ort.runs).toBe(1 + LOSSES.length);
        expect(b.pred).toEqual(a.pred);
        const e = { logits: relErr(b.logits, a.logits), grad: 0, loss: 0, gradScale: 0 };
        a.grads.forEach((g, i) => {
          e.grad = Math.max(e.grad, relErr(b.grads[i], g));
          e.loss = Math.max(e.loss, relErr(b.losses[i], a.losses[i]));
          e.gradScale = Math.max(e.gradScale, ...Array.from(g, Math.abs));
        });
        if (!(e.logits < 1e-4 && e.grad < 1e-3 && e.loss < 1e-4)) throw new Error(`${cfg.plugin?.name} ${mode}: ${JSON.stringify(e)}`);
        out[mode] = e;
        const key = `${cfg.plugin?.name}${cfg.opuMode === 'physical' && cfg.defense === 'optical' ? ' physical' : ''}`;
        maxima.logits = Math.max(maxima.logits ?? 0, e.logits);
        maxima.loss = Math.max(maxima.loss ?? 0, e.loss);
        maxima[`grad ${key} ${mode}`] = Math.max(maxima[`grad ${key} ${mode}`] ?? 0, e.grad);
      } finally {
        ort.dispose();
      }
    }
    return out;
  });
}

describe('plugin defenses on the ONNX engine: equivalence with tfjs', () => {
  it('bit-depth (deterministic, straight-through surrogate): natural gives the obfuscated zero gradient, bpda-none the surrogate', () => {
    const e = compareAllModes(pluginConfig(BIT_DEPTH, { bits: 5 }));
    expect(Object.keys(e).sort()).toEqual(['bpda-none', 'natural']);
    // rounding has a zero derivative: the natural gradient is zero on both engines; the surrogate one is not
    expect(e.natural.gradScale).toBe(0);
    expect(e['bpda-none'].gradScale).toBeGreaterThan(0);
  });

  it('bit-depth + noise (stochastic, its own surrogate function)', () => {
    const e = compareAllModes(pluginConfig(BIT_DEPTH_NOISE, { bits: 4, noiseStd: 0.05 }));
    expect(e['bpda-none'].gradScale).toBeGreaterThan(0);
  });

  it('random resize + pad (stochastic, differentiated as written on both engines)', () => {
    const e = compareAllModes(pluginConfig(RESIZE_PAD, { minSize: 20 }));
    expect(e.natural.gradScale).toBeGreaterThan(0);
  });

  it('a transform in front of the optical head (hybrid): every mode of the head and the transform, noisy camera too', () => {
    const e = compareAllModes(pluginConfig(OPTICAL_NOISE, { bits: 4, noiseStd: 0.05 }, { training: 'hybrid' }));
    expect(Object.keys(e)).toEqual(expect.arrayContaining(['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-none', 'bpda-estimated:600']));
    // through the straight-through surrogate and a matrix; natural and true differentiate the rounding (zero),
    // bpda-none stops at the OPU (zero)
    for (const m of ['bpda-true', 'bpda-random', 'bpda-estimated:600']) expect(e[m].gradScale).toBeGreaterThan(0);
    const physical = { training: 'hybrid' as const, opuMode: 'physical' as const, camera: { shotNoise: true, readNoiseStd: 1, gain: 30 } };
    compareAllModes(pluginConfig(OPTICAL_NOISE, { bits: 4, noiseStd: 0.05 }, physical), ['bpda-true', 'bpda-estimated:600']);
  });

  it('a differentiable transform in front of the optical head: the natural DFA gradient reaches the input through it', () => {
    const e = compareAllModes(pluginConfig(OPTICAL_RESIZE, { minSize: 20 }, { training: 'hybrid' }), ['natural', 'bpda-true']);
    expect(e.natural.gradScale).toBeGreaterThan(0);
  });
});

describe('plugin defenses on the ONNX engine: seeds, memory, attacks, choice', () => {
  it('a stochastic transform draws the same seed stream on both engines, one draw per call', () => {
    withNet(pluginConfig(RESIZE_PAD, { minSize: 16 }), (net) => {
      const ref = classifierFor(net, 'natural');
      const ort = new OrtClassifier(net, resolveGradientMode(net, 'natural'), ref, { threads: 1, announce: false });
      const calls = (c: Classifier): Float32Array[] => {
        net.resetInputTransformNoise();
        const out: Float32Array[] = [];
        for (let i = 0; i < 3; i++) {
          const l = c.logits(x);
          out.push(l.dataSync() as Float32Array);
          l.dispose();
          // a gradient call in between takes the next draw on both engines
          const g = c.lossAndGradient!(x, y, lossFor('ce', false));
          out.push(g.grad.dataSync() as Float32Array);
          tf.dispose([g.loss, g.grad]);
        }
        // the plain-array path (query attacks) takes a draw too
        out.push((c as OrtClassifier).logitsArray ? (c as OrtClassifier).logitsArray(x.dataSync() as Float32Array, 6) : c.logits(x).dataSync() as Float32Array);
        return out;
      };
      const a = calls(ref);
      const b = calls(ort);
      a.forEach((v, i) => expect(relErr(b[i], v)).toBeLessThan(i % 2 === 0 ? 1e-4 : 1e-3));
      // the draws differ between calls (the comparison would be vacuous otherwise)
      expect(relErr(a[2], a[0])).toBeGreaterThan(1e-3);
      ort.dispose();
    });
  });

  it('tensors and sessions stay flat over repeated attack steps', () => {
    withNet(pluginConfig(OPTICAL_NOISE, {}, { training: 'hybrid' }), (net) => {
      const ref = classifierFor(net, 'bpda-none');
      const ort = new OrtClassifier(net, resolveGradientMode(net, 'bpda-none'), ref, { threads: 1, announce: false });
      const fn = lossFor('ce', false);
      const step = (): void => {
        const r = ort.lossAndGradient(x, y, fn);
        tf.dispose([r.loss, r.grad]);
        tf.dispose(ort.logits(x));
        ort.logitsArray(x.dataSync() as Float32Array, 6);
      };
      const before = openSessionCount();
      step();
      const tensors = tf.memory().numTensors;
      const sessions = openSessionCount();
      for (let i = 0; i < 100; i++) step();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(openSessionCount()).toBe(sessions);
      expect(sessions - before).toBe(2);
      ort.dispose();
      expect(openSessionCount()).toBe(before);
    });
  });

  it('PGD results agree within one image per hundred on the same seed (bpda-none and natural)', async () => {
    const n = 100;
    const xs = tf.randomUniform([n, 32, 32, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    await withNetAsync(pluginConfig(BIT_DEPTH_NOISE, { bits: 5, noiseStd: 0.02 }), async (net) => {
      for (const mode of ['bpda-none', 'natural']) {
        const ref = classifierFor(net, mode);
        const ort = new OrtClassifier(net, resolveGradientMode(net, mode), ref, { threads: 1, announce: false });
        // labels: the clean predictions (so every image starts correct and a success is a flip)
        net.resetInputTransformNoise();
        const clean = ref.logits(xs);
        const labels = Int32Array.from(tf.argMax(clean, 1).dataSync());
        clean.dispose();
        const attack = async (c: Classifier): Promise<boolean[]> => {
          net.resetInputTransformNoise();
          const [o] = await resolveAttack('pgd', { steps: 5, norm: 'linf' }).run(c, xs, labels, [1 / 255], { seed: 3 });
          tf.dispose(o.adversarial);
          return o.success;
        };
        const a = await attack(ref);
        const b = await attack(ort);
        ort.dispose();
        const differ = a.filter((s, i) => s !== b[i]).length;
        maxima[`pgd ${mode} differing /100`] = differ;
        maxima[`pgd ${mode} successes /100`] = a.filter(Boolean).length;
        expect(differ).toBeLessThanOrEqual(1);
        // bpda-none flips some images and not all (the comparison is not vacuous)
        if (mode === 'bpda-none') expect(a.filter(Boolean).length).toBeGreaterThan(5);
        if (mode === 'bpda-none') expect(a.filter(Boolean).length).toBeLessThan(95);
      }
    });
    xs.dispose();
  });

  it('auto picks ONNX Runtime for a plugin model, names the part on tfjs once; export refuses the transform', () => {
    const cfg = pluginConfig(BIT_DEPTH, { bits: 4 });
    const d = describeModel(cfg);
    expect(d.unsupported).toEqual([]);
    expect(d.inputTransform).toEqual({ name: 'bit-depth', stochastic: false });
    const choice = resolveEngine(cfg, 'auto');
    expect(choice.engine).toBe('onnxruntime');
    expect(choice.onTfjs).toBe("the input transform of defense plugin 'bit-depth' runs on tfjs in front of the graph");
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(announceEngine(cfg, 'auto')).toBe('onnxruntime');
      expect(announceEngine(cfg, 'auto')).toBe('onnxruntime');
      const lines = spy.mock.calls.map((c) => String(c[0]));
      expect(lines).toEqual([
        "engine: onnxruntime (auto) for evaluation and attack steps of vgg11-w0.125-bit-depth-bp; the input transform of defense plugin 'bit-depth' runs on tfjs in front of the graph; training stays on tfjs\n",
      ]);
    } finally {
      spy.mockRestore();
    }
    withNet(cfg, (net) => expect(() => exportModel(net)).toThrow(/input transform of defense plugin 'bit-depth' is JavaScript and has no ONNX form/));
  });

  it('an evaluation job on a plugin checkpoint: same records on both engines', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'ckpt-'));
    const net = new Network(pluginConfig(BIT_DEPTH, { bits: 5 }));
    perturb(net, 5);
    saveCheckpoint(root, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
    net.dispose();
    const job = (engine: 'tfjs' | 'onnxruntime'): EvalJob => ({
      checkpointDir: root,
      gradientMode: 'bpda-none',
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
      engineThreads: 1,
    });
    const ort = await evaluateAttackParallel(job('onnxruntime'), { workers: 1 });
    const ref = await evaluateAttackParallel(job('tfjs'), { workers: 1 });
    expect(ort.map((r) => r.perSample.map((p) => [p.success, p.cleanPrediction]))).toEqual(ref.map((r) => r.perSample.map((p) => [p.success, p.cleanPrediction])));
  });
});
