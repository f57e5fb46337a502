/** Micro-batch (gradient-shard) training and its distribution over worker threads (src/parallel/train-parallel.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { defaultOptimizerConfig, Optimizer } from '../src/training/optimizers';
import { defaultScheduleConfig } from '../src/training/schedules';
import { meanCrossEntropy, train, TrainConfig, trainStep } from '../src/training/trainer';
import { createTrainStepper } from '../src/parallel/train-parallel';
import { shardDropoutSeed, shardSizes } from '../src/parallel/shard-step';
import { generateSynthetic } from '../datasets/synthetic';
import { takeTensors } from '../datasets/batches';
import { deriveSeed } from '../src/util/rng';

const tiny = (partial: Partial<ModelConfig> = {}): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, seed: 3, ...partial });
/** Largest |a - b| / (1 + |b|) over two arrays. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}
const weightsOf = (net: Network): Float32Array[] => net.store.list().map((p) => Float32Array.from(p.variable.dataSync()));
const trainSet = generateSynthetic({ n: 8, seed: 1, split: 'train' });
const testSet = generateSynthetic({ n: 4, seed: 1, split: 'test' });

function cfg(gradShards: number, epochs = 3): TrainConfig {
  return {
    epochs,
    batchSize: 8,
    optimizer: defaultOptimizerConfig('sgd', { lr: 0.05 }),
    schedule: defaultScheduleConfig('constant'),
    augment: false,
    seed: 5,
    gradShards,
  };
}

beforeAll(async () => {
  await initBackend('wasm', true);
});

test('shard sizes and seeds', () => {
  expect(shardSizes(10, 3)).toEqual([4, 3, 3]);
  expect(shardSizes(8, 2)).toEqual([4, 4]);
  expect(() => shardSizes(2, 3)).toThrow(/gradShards <= batch size/);
  // One shard keeps the unsharded trainer's dropout seed; more shards get one seed each.
  expect(shardDropoutSeed(5, 2, 7, 0, 1)).toBe(deriveSeed(5, 'dropout', 2, 7));
  expect(new Set([0, 1, 2].map((s) => shardDropoutSeed(5, 2, 7, s, 3))).size).toBe(3);
});

test('workers and gradShards of 1 use the plain trainStep (no stepper)', async () => {
  const net = new Network(tiny());
  const opt = new Optimizer(defaultOptimizerConfig('sgd'));
  expect(await createTrainStepper(net, opt, { workers: 1, gradShards: 1 })).toBeNull();
  await expect(createTrainStepper(net, opt, { workers: 0, gradShards: 1 })).rejects.toThrow(/bad workers 0/);
  await expect(createTrainStepper(net, opt, { workers: 1, gradShards: 1.5 })).rejects.toThrow(/bad gradShards 1.5/);
  net.dispose();
  opt.dispose();
});

test('one shard on a worker thread reproduces trainStep exactly (DFA hybrid optical head, dropout)', async () => {
  const config = tiny({ defense: 'optical', training: 'hybrid' });
  const a = new Network(config);
  const b = new Network(config);
  const optA = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.05 }));
  const optB = new Optimizer(defaultOptimizerConfig('sgd', { lr: 0.05 }));
  const stepper = (await createTrainStepper(b, optB, { workers: 2, gradShards: 1 }))!;
  const { x, y } = takeTensors(trainSet, [0, 1, 2, 3, 4, 5]);
  try {
    for (let step = 0; step < 2; step++) {
      const ra = trainStep(a, optA, x, y, deriveSeed(9, 'dropout', 1, step));
      const rb = await stepper.step(x, y, 9, 1, step);
      expect(rb).toEqual(ra);
    }
    expect(weightsOf(b)).toEqual(weightsOf(a));
  } finally {
    await stepper.close();
    tf.dispose([x, y]);
    [a, b].forEach((n) => n.dispose());
    [optA, optB].forEach((o) => o.dispose());
  }
});

test('two shards: SGD(lr 1) moves weights by minus the mean of the halves gradients; running stats average', async () => {
  const config = tiny({ dropout: 0 });
  const net = new Network(config);
  const twin = new Network(config);
  const opt = new Optimizer(defaultOptimizerConfig('sgd', { lr: 1, momentum: 0 }));
  const stepper = (await createTrainStepper(net, opt, { workers: 1, gradShards: 2 }))!;
  const { x, y } = takeTensors(trainSet, [0, 1, 2, 3, 4, 5]);
  const params = twin.store.list();
  const trainable = params.filter((p) => p.trainable);
  const buffers = params.filter((p) => !p.trainable);
  const start = buffers.map((p) => tf.clone(p.variable));
  // Expected, from the twin: gradient and resulting running stats of each half, computed separately.
  const grads: Float32Array[][] = [];
  const stats: Float32Array[][] = [];
  for (const [lo, n] of [[0, 3], [3, 3]]) {
    buffers.forEach((p, i) => p.variable.assign(start[i]));
    const { grads: g } = tf.variableGrads(() => {
      const xs = tf.slice(x, [lo, 0, 0, 0], [n, -1, -1, -1]);
      const logits = twin.forward(xs, { training: true, gradient: { dfa: false, sign: 'ste', opu: 'true' } });
      return meanCrossEntropy(logits, tf.slice(y, [lo], [n]));
    }, trainable.map((p) => p.variable));
    grads.push(trainable.map((p) => Float32Array.from(g[p.variable.name].dataSync())));
    stats.push(buffers.map((p) => Float32Array.from(p.variable.dataSync())));
    tf.dispose(Object.values(g));
  }
  const before = trainable.map((p) => Float32Array.from(p.variable.dataSync()));
  const r = await stepper.step(x, y, 0, 1, 0);
  expect(Number.isFinite(r.loss)).toBe(true);
  trainable.forEach((_, i) => {
    const got = Float32Array.from(net.store.get(trainable[i].name).dataSync());
    const want = before[i].map((w, k) => w - 0.5 * (grads[0][i][k] + grads[1][i][k]));
    expect(maxRelDiff(got, want)).toBeLessThan(1e-5);
  });
  buffers.forEach((p, i) => {
    const got = net.store.get(p.name).dataSync();
    expect(maxRelDiff(got, stats[0][i].map((v, k) => 0.5 * (v + stats[1][i][k])))).toBeLessThan(1e-6);
  });
  // The sharded step differs from the whole-batch step (BatchNorm statistics are per micro-batch).
  const whole = new Network(config);
  const wholeOpt = new Optimizer(defaultOptimizerConfig('sgd', { lr: 1, momentum: 0 }));
  trainStep(whole, wholeOpt, x, y, 0);
  expect(weightsOf(whole)).not.toEqual(weightsOf(net));
  await stepper.close();
  tf.dispose([x, y, ...start]);
  [net, twin, whole].forEach((n) => n.dispose());
  [opt, wholeOpt].forEach((o) => o.dispose());
});

test('in-process sharded steps leave no tensors behind', async () => {
  const net = new Network(tiny());
  const opt = new Optimizer(defaultOptimizerConfig('sgd'));
  const stepper = (await createTrainStepper(net, opt, { workers: 1, gradShards: 2 }))!;
  const { x, y } = takeTensors(trainSet, [0, 1, 2, 3]);
  await stepper.step(x, y, 0, 1, 0); // creates the optimizer's momentum slots
  const before = tf.memory().numTensors;
  await stepper.step(x, y, 0, 1, 1);
  await stepper.step(x, y, 0, 1, 2);
  expect(tf.memory().numTensors).toBe(before);
  await stepper.close();
  tf.dispose([x, y]);
  net.dispose();
  opt.dispose();
});

test('train(): 1 and 2 workers with gradShards = 2 give the same losses and weights', async () => {
  const config = tiny({ defense: 'optical', training: 'hybrid' });
  const runs: { losses: number[]; test: number[]; weights: Float32Array[] }[] = [];
  for (const workers of [1, 2]) {
    const net = new Network(config);
    const result = await train(net, trainSet, testSet, cfg(2), { quiet: true, workers });
    runs.push({ losses: result.history.map((h) => h.trainLoss), test: result.history.map((h) => h.testLoss), weights: weightsOf(net) });
    net.dispose();
  }
  expect(runs[0].losses).toHaveLength(3);
  runs[0].losses.forEach((l, i) => expect(Math.abs(runs[1].losses[i] - l)).toBeLessThanOrEqual(1e-5 * Math.abs(l)));
  runs[0].test.forEach((l, i) => expect(Math.abs(runs[1].test[i] - l)).toBeLessThanOrEqual(1e-5 * Math.abs(l)));
  runs[0].weights.forEach((w, i) => expect(maxRelDiff(runs[1].weights[i], w)).toBeLessThanOrEqual(1e-5));
  // Sharding itself changes training (per-micro-batch BatchNorm and dropout seeds).
  const plain = new Network(config);
  const r1 = await train(plain, trainSet, testSet, cfg(1), { quiet: true });
  expect(r1.history.map((h) => h.trainLoss)).not.toEqual(runs[0].losses);
  plain.dispose();
  const bad = new Network(config);
  await expect(train(bad, trainSet, testSet, cfg(9), { quiet: true })).rejects.toThrow(/gradShards 9 exceeds the batch size 8/);
  bad.dispose();
});
