import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { DfaSession } from '../src/models/dfa';
import { classifierFor } from '../src/models/classifier';
import { crossEntropyLoss } from '../attacks/losses';
import { trainStep, meanCrossEntropy, evaluate, firstExamples } from '../src/training/trainer';
import { Optimizer, defaultOptimizerConfig } from '../src/training/optimizers';
import { generateSynthetic } from '../datasets/synthetic';
import { iterateBatches } from '../datasets/batches';

// Tiny but real: VGG-11 at width 0.125 (8..64 channels), small OPU.
const tiny = (p: Partial<ModelConfig>): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 1, ...p });

let x: tf.Tensor4D;
let y: tf.Tensor1D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  y = tf.tensor1d([0, 3, 7, 9], 'int32');
});
afterAll(() => tf.dispose([x, y]));

describe('hybrid DFA on the optical network', () => {
  it('the head Dense below the feedback point gets feats^T (e·B ⊙ relu\'), the output Dense its true gradient', () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const session = new DfaSession(net.feedback!);
    const seen: Record<string, tf.Tensor> = {};
    const observe = (name: string, t: tf.Tensor): void => {
      if (name === 'pool5' || name === 'head/dense1' || name === 'head/opu') seen[name] = tf.keep(tf.clone(t));
    };
    const named = net.store.list().filter((p) => p.trainable);
    let logitsKept: tf.Tensor2D | null = null;
    const { grads } = tf.variableGrads(() => {
      const logits = net.forward(x, { training: false, gradient: { dfa: true, sign: 'zero', opu: 'none' }, dfaSession: session, observe });
      logitsKept = tf.keep(tf.clone(logits));
      return meanCrossEntropy(logits, y) as tf.Scalar;
    }, named.map((p) => p.variable));
    const g = (name: string): tf.Tensor => grads[net.store.get(name).name];
    tf.tidy(() => {
      const logits = logitsKept as unknown as tf.Tensor2D;
      const e = tf.div(tf.sub(tf.softmax(logits), tf.oneHot(y, 10)), 4);
      const feats = tf.reshape(seen['pool5'], [4, -1]);
      const h = seen['head/dense1'] as tf.Tensor2D;
      const eB = tf.matMul(e, net.feedback!.columns(32));
      const dPre = tf.mul(eB, tf.cast(tf.greater(h, 0), 'float32'));
      const expectDense1 = tf.matMul(feats, dPre, true, false);
      const expectOut = tf.matMul(seen['head/opu'] as tf.Tensor2D, e, true, false);
      const rel = (a: tf.Tensor, b: tf.Tensor): number => tf.norm(tf.sub(a, b)).dataSync()[0] / Math.max(1e-12, tf.norm(b).dataSync()[0]);
      expect(rel(g('head/dense1/kernel'), expectDense1)).toBeLessThan(1e-4);
      expect(rel(g('head/out/kernel'), expectOut)).toBeLessThan(1e-4);
      // the conv stack below receives the synthetic signal too (non-zero gradient)
      expect(tf.norm(g('features/conv1/kernel')).dataSync()[0]).toBeGreaterThan(0);
    });
    session.dispose();
    tf.dispose([...Object.values(seen), logitsKept as unknown as tf.Tensor, ...Object.values(grads)]);
    net.dispose();
  });
});

describe('input gradients exposed to attackers', () => {
  const grad = (net: Network, mode: string): Float32Array =>
    tf.tidy(() => {
      const c = classifierFor(net, mode);
      const { loss, grad: gr } = c.lossAndGradient!(x, y, crossEntropyLoss);
      loss.dispose();
      return gr;
    }).dataSync() as Float32Array;
  const norm = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

  it('optical model: natural (DFA) and BPDA modes are non-zero and differ; bpda-none is zero', () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const natural = grad(net, 'natural');
    const random = grad(net, 'bpda-random');
    const truth = grad(net, 'bpda-true');
    const none = grad(net, 'bpda-none');
    expect(norm(natural)).toBeGreaterThan(0);
    expect(norm(random)).toBeGreaterThan(0);
    expect(norm(truth)).toBeGreaterThan(0);
    expect(norm(none)).toBe(0);
    const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i], 0) / (norm(a) * norm(b));
    expect(Math.abs(cos(random, truth))).toBeLessThan(0.99);
    expect(Math.abs(cos(natural, truth))).toBeLessThan(0.99);
    net.dispose();
  });

  it('without a Sign, bpda-true is the exact gradient: matches central finite differences', () => {
    const net = new Network(tiny({ defense: 'dfa-projection', training: 'hybrid' }));
    const g = grad(net, 'bpda-true');
    const loss = (xx: tf.Tensor4D): number => tf.tidy(() => tf.sum(crossEntropyLoss(net.predictLogits(xx), y)).dataSync()[0]);
    const h = 1e-2;
    for (const idx of [5, 1000, 2222, 3071 + 3072]) {
      const d = tf.tidy(() => tf.reshape(tf.oneHot(tf.tensor1d([idx], 'int32'), x.size), x.shape)) as tf.Tensor4D;
      const plus = tf.add(x, tf.mul(d, h)) as tf.Tensor4D;
      const minus = tf.sub(x, tf.mul(d, h)) as tf.Tensor4D;
      const fd = (loss(plus) - loss(minus)) / (2 * h);
      tf.dispose([d, plus, minus]);
      expect(Math.abs(fd - g[idx])).toBeLessThan(2e-3 + 0.05 * Math.abs(fd));
    }
    net.dispose();
  });

  it('a bp-trained baseline exposes its true gradient', () => {
    const net = new Network(tiny({ defense: 'none', training: 'bp' }));
    expect(classifierFor(net, 'natural').gradientMode).toBe('true');
    expect(norm(grad(net, 'natural'))).toBeGreaterThan(0);
    net.dispose();
  });
});

describe('training', () => {
  it('loss falls for bp and hybrid, same seed gives the same losses, tensor count is flat', () => {
    const data = generateSynthetic({ n: 128, seed: 0, split: 'train' });
    for (const [defense, training] of [['none', 'bp'], ['optical', 'hybrid']] as const) {
      const run = (): number[] => {
        const net = new Network(tiny({ defense, training }));
        const opt = new Optimizer(defaultOptimizerConfig('adam', { lr: 3e-3 }));
        const losses: number[] = [];
        let before = -1;
        for (let epoch = 0; epoch < 4; epoch++) {
          for (const b of iterateBatches(data, { batchSize: 32, shuffle: true, seed: epoch })) {
            losses.push(trainStep(net, opt, b.x, b.y, epoch).loss);
            tf.dispose([b.x, b.y]);
            if (before < 0) before = tf.memory().numTensors;
          }
        }
        expect(tf.memory().numTensors).toBe(before);
        opt.dispose();
        net.dispose();
        return losses;
      };
      const a = run();
      const mean = (v: number[]): number => v.reduce((s, t) => s + t, 0) / v.length;
      expect(mean(a.slice(-4))).toBeLessThan(mean(a.slice(0, 4)));
      expect(run()).toEqual(a);
    }
  });

  it('evaluate counts accuracy over the first n examples', () => {
    const data = generateSynthetic({ n: 40, seed: 1, split: 'test' });
    const net = new Network(tiny({}));
    const r = evaluate(net, data, 16, 24);
    expect(r.n).toBe(24);
    expect(firstExamples(data, 24).labels.length).toBe(24);
    net.dispose();
  });
});

describe('train(): checkpoints, resume, NaN guard', () => {
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const { train } = require('../src/training/trainer') as typeof import('../src/training/trainer');
  const { defaultScheduleConfig } = require('../src/training/schedules') as typeof import('../src/training/schedules');
  const data = generateSynthetic({ n: 64, seed: 2, split: 'train' });
  const cfg = (epochs: number, schedule = defaultScheduleConfig('constant')) => ({
    epochs,
    batchSize: 32,
    optimizer: defaultOptimizerConfig('sgd', { lr: 0.01 }),
    schedule,
    augment: true,
    seed: 4,
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-train-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const strip = (h: { imgPerSec: number; seconds: number }[]) => h.map((r) => ({ ...r, imgPerSec: 0, seconds: 0 }));

  it('a run resumed from its epoch-1 checkpoint equals an uninterrupted 2-epoch run', async () => {
    const straight = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const a = await train(straight, data, data, cfg(2), { quiet: true });
    straight.dispose();
    const dir = path.join(tmp, 'resume');
    const first = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    await train(first, data, data, cfg(1), { quiet: true, checkpointDir: dir });
    first.dispose();
    const second = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const b = await train(second, data, data, cfg(2), { quiet: true, checkpointDir: dir, resume: true });
    second.dispose();
    expect(strip(b.history)).toEqual(strip(a.history));
  });

  it('resuming into a different model is refused, naming the differing fields', async () => {
    const dir = path.join(tmp, 'resume');
    const other = new Network(tiny({ defense: 'optical', training: 'hybrid', opuOut: 96 }));
    await expect(train(other, data, data, cfg(2), { quiet: true, checkpointDir: dir, resume: true })).rejects.toThrow(
      /holds a different model \(opuOut: 64\)/,
    );
    other.dispose();
  });

  it('a NaN loss stops training with a clear error and keeps the last good checkpoint', async () => {
    const dir = path.join(tmp, 'nan');
    const net = new Network(tiny({}));
    // epoch 1 at lr 0.01, then the schedule multiplies the lr by 1e12: the loss diverges in epoch 2
    const blowUp = defaultScheduleConfig('multistep', { milestones: [1], factor: 1e12 });
    await expect(train(net, data, data, cfg(3, blowUp), { quiet: true, checkpointDir: dir })).rejects.toThrow(
      /(training loss became (NaN|Infinity) at epoch 2 |training diverged in epoch 2 ).*last good checkpoint kept at .* \(epoch 1\)/,
    );
    net.dispose();
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { train: { epochsDone: number } };
    expect(meta.train.epochsDone).toBe(1);
  });
});

describe('classifier memory', () => {
  it('lossAndGradient leaks nothing inside a caller tf.tidy, for natural and BPDA paths', () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    for (const mode of ['natural', 'bpda-true']) {
      const c = classifierFor(net, mode);
      tf.tidy(() => c.lossAndGradient!(x, y, crossEntropyLoss).grad);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) tf.tidy(() => c.lossAndGradient!(x, y, crossEntropyLoss).grad.dispose());
      expect(tf.memory().numTensors).toBe(before);
    }
    net.dispose();
  });
});

describe('Sign centering', () => {
  it("'running-mean' (default) makes eval predictions independent of the batch; 'batch-mean' (the reference's) does not", () => {
    const first2 = (net: Network, xs: tf.Tensor4D): number[] =>
      Array.from(tf.tidy(() => tf.slice(net.predictLogits(xs), [0, 0], [2, -1])).dataSync() as Float32Array);
    const a = tf.slice(x, [0, 0, 0, 0], [2, -1, -1, -1]) as tf.Tensor4D;
    const running = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    expect(running.config.binarizeCenter).toBe('running-mean');
    // one training step moves the running center off zero
    const opt = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.01 }));
    trainStep(running, opt, x, y, 1);
    const center = running.store.get('head/sign/running_center').dataSync()[0];
    expect(center).not.toBe(0);
    expect(first2(running, a)).toEqual(first2(running, x));
    const batch = new Network(tiny({ defense: 'optical', training: 'hybrid', binarizeCenter: 'batch-mean' }));
    // the same two images next to two very different ones (saturated white): the batch mean moves, signs flip
    const mixed = tf.concat([a, tf.ones([6, 32, 32, 3])]) as tf.Tensor4D;
    expect(first2(batch, a)).not.toEqual(first2(batch, mixed));
    expect(first2(running, a)).toEqual(first2(running, mixed));
    mixed.dispose();
    opt.dispose();
    [running, batch].forEach((n) => n.dispose());
    a.dispose();
  });
});
