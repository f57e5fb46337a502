/**
 * fillRandomNormal (src/util/tf-normal.ts) must give bit for bit the values of tf.randomNormal for the same seed,
 * mean, std and length (odd lengths, where the last pair's second value is dropped, included), and the camera's
 * array draws must equal its tensor draws, stream position included.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { fillRandomNormal } from '../src/util/tf-normal';
import { Camera } from '../src/optics/camera';

beforeAll(async () => {
  await initBackend('wasm', true);
});

describe('fillRandomNormal', () => {
  it.each([
    [1, 0, 1, 1],
    [7, 0, 1, 12345],
    [1000, 0, 2, 987654321],
    [4097, 0.5, 3, 2147483646],
    [64, -1, 0.25, 42],
  ])('%i values, mean %d, std %d, seed %i: identical to tf.randomNormal', (n, mean, std, seed) => {
    const ref = tf.randomNormal([n], mean, std, 'float32', seed);
    const expected = ref.dataSync() as Float32Array;
    const got = fillRandomNormal(new Float32Array(n), mean, std, seed);
    expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // and the samples are not degenerate (a constant fill would fail the comparison above, but say why)
    if (n >= 1000) expect(new Set(got).size).toBeGreaterThan(n * 0.99);
    ref.dispose();
  });

  it('camera: array draws equal tensor draws and advance the stream the same way', () => {
    const cfg = { shotNoise: true, readNoiseStd: 2, seed: 9 };
    const a = new Camera(cfg);
    const b = new Camera(cfg);
    for (let k = 0; k < 3; k++) {
      const t = a.drawNoise([3, 5]);
      const into = { shot: new Float32Array(20), read: new Float32Array(20) };
      const arr = b.drawNoiseArrays(15, into, 5);
      expect(Array.from(into.shot.subarray(5))).toEqual(Array.from(t.shot!.dataSync()));
      expect(Array.from(arr.read!)).toEqual(Array.from(t.read!.dataSync()));
      expect(Array.from(into.shot.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
      tf.dispose([t.shot!, t.read!]);
    }
  });
});
