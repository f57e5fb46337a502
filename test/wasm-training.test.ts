/**
 * A small VGG-like convnet (the project's ConvBnRelu blocks, max-pools, Dense head) trains on the wasm
 * backend with opulab's kernels: loss falls on a fixed synthetic batch, tensor and wasm-buffer counts stay
 * flat, and the same seed reproduces the same losses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index';
import { ConvBnRelu, Dense } from '../src/models/layers';
import { ParamStore } from '../src/models/params';
import { makeRng } from '../src/util/rng';

interface Run {
  losses: number[];
  tensorCounts: number[];
  bufferCounts: number[];
}

function trainTinyVgg(seed: number, steps: number): Run {
  const rng = makeRng(seed, 'tiny-vgg');
  const store = new ParamStore();
  const blocks = [new ConvBnRelu(store, 'c1', 3, 8, rng), new ConvBnRelu(store, 'c2', 8, 8, rng), new ConvBnRelu(store, 'c3', 8, 12, rng)];
  const head = new Dense(store, 'fc', 12 * 2 * 2, 4, rng);
  const x = tf.randomNormal([16, 16, 16, 3], 0, 1, 'float32', rng.nextSeed()) as tf.Tensor4D;
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 4), 'int32'), 4));
  const optimizer = tf.train.momentum(0.05, 0.9);
  const forward = (): tf.Scalar => {
    let h = x;
    for (const b of blocks) h = tf.maxPool(b.apply(h, { training: true }), 2, 2, 'valid');
    const logits = head.apply(tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  const run: Run = { losses: [], tensorCounts: [], bufferCounts: [] };
  for (let i = 0; i < steps; i++) {
    const loss = optimizer.minimize(forward, true, store.trainable())!;
    run.losses.push(loss.dataSync()[0]);
    loss.dispose();
    run.tensorCounts.push(tf.memory().numTensors);
    run.bufferCounts.push(tf.backend().numDataIds());
  }
  optimizer.dispose();
  store.dispose();
  tf.dispose([x, labels]);
  return run;
}

beforeAll(async () => {
  await initBackend('wasm', true);
});

test('tiny VGG trains on wasm: loss falls, memory flat', () => {
  expect(tf.getBackend()).toBe('wasm');
  const run = trainTinyVgg(3, 20);
  const first = run.losses[0];
  const last = run.losses[run.losses.length - 1];
  expect(run.losses.every(Number.isFinite)).toBe(true);
  expect(last).toBeLessThan(0.5 * first);
  // after the first step (optimizer slots created) the counts must not grow
  expect(new Set(run.tensorCounts.slice(1)).size).toBe(1);
  expect(new Set(run.bufferCounts.slice(1)).size).toBe(1);
});

test('same seed, same losses', () => {
  const a = trainTinyVgg(5, 4).losses;
  const b = trainTinyVgg(5, 4).losses;
  const c = trainTinyVgg(6, 4).losses;
  expect(b).toEqual(a);
  expect(c).not.toEqual(a);
});
