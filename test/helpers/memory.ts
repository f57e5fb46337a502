import * as tf from '@tensorflow/tfjs-core';

/**
 * Run `step` once (warm-up: optimizer slots, caches), then `repeats` more times, and expect neither the engine's
 * tensor count nor the backend's buffer count to have changed.
 */
export function expectMemoryFlat(step: () => unknown, repeats: number): void {
  step();
  const tensors = tf.memory().numTensors;
  const buffers = tf.backend().numDataIds();
  for (let i = 0; i < repeats; i++) step();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.backend().numDataIds()).toBe(buffers);
}
