import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig, modelId } from '../src/models/config';
import { RepVggFeatures, RepVggTrainBlock, repvggPlan, repvggStageWidths } from '../src/models/repvgg';
import { ParamStore } from '../src/models/params';
import { classifierFor } from '../src/models/classifier';
import { Fgsm, Pgd } from '../attacks/whitebox';
import { trainStep, loadNetwork } from '../src/training/trainer';
import { Optimizer, defaultOptimizerConfig } from '../src/training/optimizers';
import { saveCheckpoint } from '../src/training/checkpoint';
import { makeRng } from '../src/util/rng';
import { UserError } from '../src/util/errors';

const tiny = (p: Partial<ModelConfig> = {}): ModelConfig =>
  defaultModelConfig({ architecture: 'repvgg-a0', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 3, ...p });

/** Non-trivial BatchNorm statistics and affine parameters (fresh BN would fold to a near-identity). */
function randomizeBatchNorm(store: ParamStore, seed: number): void {
  const rng = makeRng(seed, 'bn');
  for (const p of store.list()) {
    const m = /\/(gamma|beta|running_mean|running_var)$/.exec(p.name);
    if (!m) continue;
    const [lo, hi] = m[1] === 'gamma' || m[1] === 'running_var' ? [0.5, 1.5] : [-0.3, 0.3];
    const v = new Float32Array(p.variable.size);
    for (let i = 0; i < v.length; i++) v[i] = rng.range(lo, hi);
    p.variable.assign(tf.tensor(v, p.variable.shape));
  }
}

/** Running statistics from training-mode passes (untrained eval logits otherwise explode through 22 blocks). */
function calibrate(net: Network, xin: tf.Tensor4D, passes = 25): void {
  for (let i = 0; i < passes; i++) tf.tidy(() => net.forward(xin, { training: true, gradient: { dfa: false, sign: 'zero', opu: 'none' } }));
}

function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / Math.max(1e-12, tf.norm(b).dataSync()[0]));
}

let x: tf.Tensor4D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
});
afterAll(() => x.dispose());

describe('RepVGG plan', () => {
  it('A0/A1/A2 stage widths follow the paper (a, b multipliers) and depths are [1,2,4,14,1]', () => {
    expect(repvggStageWidths('repvgg-a0')).toEqual([48, 48, 96, 192, 1280]);
    expect(repvggStageWidths('repvgg-a1')).toEqual([64, 64, 128, 256, 1280]);
    expect(repvggStageWidths('repvgg-a2')).toEqual([64, 96, 192, 384, 1408]);
    const plan = repvggPlan('repvgg-a0', 0.25);
    expect(plan).toHaveLength(22);
    expect(plan.map((b) => b.stage)).toEqual([1, 2, 2, 3, 3, 3, 3, ...Array(14).fill(4), 5]);
    // CIFAR: stage 1 keeps 32x32; the first block of stages 2-5 has stride 2
    expect(plan.filter((b) => b.stride === 2).map((b) => b.name)).toEqual(['conv2', 'conv4', 'conv8', 'conv22']);
    expect(plan[plan.length - 1].outChannels).toBe(320);
    expect(plan[0]).toMatchObject({ inChannels: 3, outChannels: 12, stride: 1 });
  });

  it('builds 32 -> 2x2 maps then a global average pool; rejects a bad width', () => {
    const store = new ParamStore();
    const f = new RepVggFeatures(store, 'repvgg-a0', 0.125, makeRng(0, 'init'));
    const out = tf.tidy(() => f.apply(x, { training: false }));
    expect(out.shape).toEqual([6, f.outFeatures]);
    expect(f.largestStageFeatures).toBe(32 * 32 * 8);
    out.dispose();
    store.dispose();
    expect(() => repvggPlan('repvgg-a0', 0)).toThrow(UserError);
  });
});

describe('structural re-parameterization', () => {
  it.each([
    ['identity branch (in == out, stride 1)', 8, 8, 1],
    ['stride 2 (no identity)', 8, 16, 2],
  ] as const)('one block fused equals the three branches: %s', (_, ci, co, stride) => {
    const store = new ParamStore();
    const block = new RepVggTrainBlock(store, { name: 'conv1', stage: 1, inChannels: ci, outChannels: co, stride }, makeRng(1, 'b'));
    randomizeBatchNorm(store, 2);
    expect(block.bnId !== null).toBe(ci === co && stride === 1);
    const xin = tf.randomNormal([2, 8, 8, ci], 0, 1, 'float32', 4) as tf.Tensor4D;
    const { kernel, bias } = block.fuse();
    tf.tidy(() => {
      const branches = block.apply(xin, { training: false });
      const fused = tf.relu(tf.add(tf.conv2d(xin, kernel, stride, 1), bias));
      expect(branches.shape).toEqual([2, 8 / stride, 8 / stride, co]);
      expect(relErr(fused, branches)).toBeLessThan(1e-5);
    });
    tf.dispose([xin, kernel, bias]);
    store.dispose();
  });

  it('the deploy-form network gives the unfused eval logits to 1e-4 relative; form and id recorded', () => {
    for (const defense of ['none', 'optical'] as const) {
      const net = new Network(tiny({ defense, training: defense === 'none' ? 'bp' : 'hybrid' }));
      randomizeBatchNorm(net.store, 5);
      const fused = net.reparameterize();
      expect(fused.config.repvggForm).toBe('deploy');
      expect(modelId(fused.config)).toBe(modelId(net.config));
      expect(fused.store.list().some((p) => p.name.includes('bn'))).toBe(false);
      tf.tidy(() => expect(relErr(fused.predictLogits(x), net.predictLogits(x))).toBeLessThan(1e-4));
      expect(() => fused.reparameterize()).toThrow(UserError);
      fused.dispose();
      net.dispose();
    }
  });

  it('FGSM and PGD on the fused and unfused model give the same outcome for the same seed', async () => {
    const net = new Network(tiny());
    randomizeBatchNorm(net.store, 6);
    calibrate(net, x);
    const fused = net.reparameterize();
    const labels = Int32Array.from(tf.tidy(() => tf.argMax(net.predictLogits(x), 1)).dataSync());
    for (const attack of [new Fgsm({}), new Pgd({ steps: 5, randomStart: true })]) {
      const [a] = await attack.run(classifierFor(net), x, labels, [0.1], { seed: 7 });
      const [b] = await attack.run(classifierFor(fused), x, labels, [0.1], { seed: 7 });
      expect(b.success).toEqual(a.success);
      expect(b.adversarialPrediction ?? null).toEqual(a.adversarialPrediction ?? null);
      // identical up to float rounding of sign(grad) at exactly-flat pixels
      const differing = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(a.adversarial, b.adversarial)), 1e-5), 'float32')).dataSync()[0]);
      expect(differing).toBeLessThan(1e-3);
      expect(a.success.some((s) => s)).toBe(true);
      tf.dispose([a.adversarial, b.adversarial]);
    }
    fused.dispose();
    net.dispose();
  });

  it('a deploy-form checkpoint reloads as deploy form; a VGG network has no deploy form', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-repvgg-'));
    const net = new Network(tiny());
    randomizeBatchNorm(net.store, 8);
    const fused = net.reparameterize();
    saveCheckpoint(dir, fused.config, fused.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
    const { net: back, meta } = loadNetwork(dir);
    expect(meta.config.repvggForm).toBe('deploy');
    tf.tidy(() => expect(relErr(back.predictLogits(x), net.predictLogits(x))).toBeLessThan(1e-4));
    back.dispose();
    // a train-form config cannot load deploy weights (names differ): clear error
    const trainCfg = { ...fused.config, repvggForm: 'train' as const };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...meta, config: trainCfg }));
    expect(() => loadNetwork(dir)).toThrow(/does not fit this architecture/);
    fused.dispose();
    net.dispose();
    const vgg = new Network(defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32 }));
    expect(() => vgg.reparameterize()).toThrow(/only RepVGG/);
    vgg.dispose();
    expect(() => defaultModelConfig({ architecture: 'vgg11', repvggForm: 'deploy' })).toThrow(UserError);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('training RepVGG', () => {
  it('bp and dfa steps update weights with finite loss (stride-2 convs on wasm), memory flat', () => {
    for (const [defense, training] of [['none', 'bp'], ['optical', 'hybrid'], ['optical', 'dfa']] as const) {
      const net = new Network(tiny({ defense, training }));
      const opt = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.01 }));
      const y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
      const k0 = net.store.get('features/conv2/conv3/kernel').dataSync().slice();
      const r = trainStep(net, opt, x, y, 1);
      expect(Number.isFinite(r.loss)).toBe(true);
      const k1 = net.store.get('features/conv2/conv3/kernel').dataSync();
      expect(k1.some((v, i) => v !== k0[i])).toBe(true);
      const before = tf.memory().numTensors;
      trainStep(net, opt, x, y, 2);
      trainStep(net, opt, x, y, 3);
      expect(tf.memory().numTensors).toBe(before);
      y.dispose();
      opt.dispose();
      net.dispose();
    }
  });

  it('stride-2 padded-conv gradients on wasm match the cpu backend', async () => {
    const grads = async (backend: 'wasm' | 'cpu'): Promise<Float32Array[]> => {
      await initBackend(backend, true);
      const xin = tf.tensor4d(Array.from({ length: 2 * 8 * 8 * 4 }, (_, i) => Math.sin(i)), [2, 8, 8, 4]);
      const w = tf.tensor4d(Array.from({ length: 3 * 3 * 4 * 6 }, (_, i) => Math.cos(i)), [3, 3, 4, 6]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1))))([xin, w]);
      const out = g.map((t) => Float32Array.from(t.dataSync()));
      tf.dispose([xin, w, ...g]);
      return out;
    };
    const [cpuX, cpuW] = await grads('cpu');
    const [wasmX, wasmW] = await grads('wasm');
    const close = (a: Float32Array, b: Float32Array): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]) / (1 + Math.abs(b[i]))));
    expect(close(wasmX, cpuX)).toBeLessThan(1e-4);
    expect(close(wasmW, cpuW)).toBeLessThan(1e-4);
  });
});

describe('CLI', () => {
  it('`opulab train --model repvgg-a0 --defense optical` trains and writes a reloadable checkpoint', async () => {
    const { main } = await import('../src/cli/main');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-repvgg-cli-'));
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['train', '--model', 'repvgg-a0', '--width', '0.125', '--defense', 'optical', '--training', 'hybrid',
        '--dataset', 'synthetic', '--train-samples', '64', '--test-samples', '32', '--epochs', '1', '--batch-size', '32',
        '--opu-in', '32', '--opu-out', '64', '--backend', 'wasm', '--out', dir]);
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
    expect(code).toBe(0);
    const { net, meta } = loadNetwork(dir);
    expect(meta.config.architecture).toBe('repvgg-a0');
    expect(net.opu).not.toBeNull();
    expect(net.store.list().some((p) => p.name === 'features/conv22/bn3/gamma')).toBe(true);
    net.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
