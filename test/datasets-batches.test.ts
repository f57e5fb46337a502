/** Batching, augmentation and tensor helpers over a Dataset. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { augmentImage, defaultAugmentation, generateSynthetic, iterateBatches, perClassCounts, takeTensors } from '../datasets';
import type { Dataset } from '../datasets';
import type { Rng } from '../src/util/rng';
import { UserError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('cpu', true);
});

/** A 4x4x1 (or HxWxC) dataset with pixel value = its own index, labels i % numClasses. */
function tinyDataset(n: number, h = 4, w = 4, ch = 1, numClasses = 3): Dataset {
  const images = new Uint8Array(n * h * w * ch);
  for (let i = 0; i < images.length; i++) images[i] = i % 251;
  const labels = Int32Array.from({ length: n }, (_, i) => i % numClasses);
  return {
    name: 'synthetic',
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, i) => `c${i}`),
    n,
    height: h,
    width: w,
    channels: ch,
    images,
    labels,
    source: 'test',
    normalization: { mean: [0.5], std: [0.5] },
  };
}

/** An Rng that replays fixed draws (to test augmentImage on hand-worked cases). */
function scriptedRng(ints: number[], uniforms: number[], ranges: number[]): Rng {
  const take = (a: number[], what: string): number => {
    const v = a.shift();
    if (v === undefined) throw new Error(`scripted rng: no ${what} left`);
    return v;
  };
  return {
    uniform: () => take(uniforms, 'uniform'),
    range: () => take(ranges, 'range'),
    int: () => take(ints, 'int'),
    normal: () => 0,
    nextSeed: () => 0,
    shuffle: <T>(a: T[]) => a,
    permutation: (n: number) => Int32Array.from({ length: n }, (_, i) => i),
  };
}

describe('augmentImage (hand-worked)', () => {
  // 4x4 single-channel image with values 0..15 (row-major), in [0,1] after /255
  const src = Uint8Array.from({ length: 16 }, (_, i) => i);
  const geom = { height: 4, width: 4, channels: 1 };
  const read = (out: Float32Array) => Array.from(out, (v) => Math.round(v * 255));

  test('crop with padding shifts with zero fill', () => {
    const out = new Float32Array(16);
    // padding 1: ox = int(3) - 1 = +1, oy = int(3) - 1 = -1 -> output (x, y) reads input (x+1, y-1)
    augmentImage(src, 0, geom, { padding: 1 }, scriptedRng([2, 0], [], []), out, 0);
    expect(read(out)).toEqual([0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0]);
  });

  test('flip mirrors columns (drawn when uniform < 0.5)', () => {
    const out = new Float32Array(16);
    augmentImage(src, 0, geom, { flip: true }, scriptedRng([], [0.2], []), out, 0);
    expect(read(out)).toEqual([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]);
    augmentImage(src, 0, geom, { flip: true }, scriptedRng([], [0.7], []), out, 0);
    expect(read(out)).toEqual(Array.from(src));
  });

  test('rotation by 90 degrees permutes pixels exactly (bilinear at grid points)', () => {
    const out = new Float32Array(16);
    augmentImage(src, 0, geom, { rotationDeg: 90 }, scriptedRng([], [], [90]), out, 0);
    // output (x, y) samples (u, v) = (cx + (y - cy), cy - (x - cx)), c = 1.5: u = y, v = 3 - x
    const expected = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expected.push((3 - x) * 4 + y);
    expect(read(out)).toEqual(expected);
  });

  test('small rotation interpolates bilinearly', () => {
    // constant image of 200: interior stays 200 (weights sum to 1), corners lose mass to zero fill
    const flat = new Uint8Array(8 * 8).fill(200);
    const out = new Float32Array(64);
    augmentImage(flat, 0, { height: 8, width: 8, channels: 1 }, { rotationDeg: 15 }, scriptedRng([], [], [10]), out, 0);
    expect(out[3 * 8 + 3] * 255).toBeCloseTo(200, 3);
    expect(out[0] * 255).toBeLessThan(200);
    expect(out[0] * 255).toBeGreaterThanOrEqual(0);
  });

  test('defaults follow the reference: rotation only for CIFAR-100', () => {
    expect(defaultAugmentation('cifar10')).toEqual({ padding: 4, flip: true, rotationDeg: 0 });
    expect(defaultAugmentation('cifar100')).toEqual({ padding: 4, flip: true, rotationDeg: 15 });
  });
});

describe('iterateBatches', () => {
  test('each index exactly once per epoch, in seeded shuffled order', () => {
    const ds = tinyDataset(23);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of iterateBatches(ds, { batchSize: 5, shuffle: true, seed: 11 })) {
      expect(b.x.shape).toEqual([b.indices.length, 4, 4, 1]);
      expect(b.x.dtype).toBe('float32');
      expect(b.y.dtype).toBe('int32');
      const xs = b.x.dataSync();
      const ys = b.y.dataSync();
      b.indices.forEach((idx, k) => {
        expect(ys[k]).toBe(ds.labels[idx]);
        for (let p = 0; p < 16; p++) expect(xs[k * 16 + p]).toBeCloseTo(ds.images[idx * 16 + p] / 255, 6);
      });
      seen.push(...b.indices);
      sizes.push(b.indices.length);
      b.x.dispose();
      b.y.dispose();
    }
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(seen).not.toEqual(Array.from({ length: 23 }, (_, i) => i));

    const again: number[] = [];
    for (const b of iterateBatches(ds, { batchSize: 5, shuffle: true, seed: 11 })) {
      again.push(...b.indices);
      tf.dispose([b.x, b.y]);
    }
    expect(again).toEqual(seen);
    const other: number[] = [];
    for (const b of iterateBatches(ds, { batchSize: 5, shuffle: true, seed: 12 })) {
      other.push(...b.indices);
      tf.dispose([b.x, b.y]);
    }
    expect(other).not.toEqual(seen);
  });

  test('unshuffled order, dropLast, bad batch size', () => {
    const ds = tinyDataset(7);
    const got: number[][] = [];
    for (const b of iterateBatches(ds, { batchSize: 3, shuffle: false, seed: 0, dropLast: true })) {
      got.push(Array.from(b.indices));
      tf.dispose([b.x, b.y]);
    }
    expect(got).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(() => iterateBatches(ds, { batchSize: 0, shuffle: false, seed: 0 }).next()).toThrow(UserError);
    expect(() => iterateBatches(ds, { batchSize: 2, shuffle: false, seed: 0, augment: { padding: -1 } }).next()).toThrow(/padding -1/);
  });

  test('augmented batches: same seed = same pixels, shape kept, values in [0,1], different from plain', () => {
    const ds = generateSynthetic({ n: 12, seed: 0, split: 'train' });
    const run = (seed: number): Float32Array[] => {
      const out: Float32Array[] = [];
      for (const b of iterateBatches(ds, { batchSize: 4, shuffle: true, seed, augment: defaultAugmentation('cifar100') })) {
        expect(b.x.shape).toEqual([4, 32, 32, 3]);
        out.push(b.x.dataSync() as Float32Array);
        tf.dispose([b.x, b.y]);
      }
      return out;
    };
    const a = run(5);
    const b = run(5);
    const c = run(6);
    a.forEach((arr, k) => expect(Array.from(arr)).toEqual(Array.from(b[k])));
    expect(Array.from(a[0])).not.toEqual(Array.from(c[0]));
    for (const arr of a) for (const v of arr) if (v < 0 || v > 1) throw new Error(`pixel ${v} outside [0,1]`);
    const plain: number[] = [];
    for (const p of iterateBatches(ds, { batchSize: 4, shuffle: true, seed: 5 })) {
      plain.push(...p.x.dataSync());
      tf.dispose([p.x, p.y]);
    }
    expect(Array.from(a[0])).not.toEqual(plain.slice(0, a[0].length));
  });

  test('tensor count is flat across repeated epochs (caller disposes each batch)', () => {
    const ds = tinyDataset(10);
    const before = tf.memory().numTensors;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const b of iterateBatches(ds, { batchSize: 4, shuffle: true, seed: epoch, augment: { padding: 1, flip: true, rotationDeg: 10 } })) {
        expect(tf.memory().numTensors).toBe(before + 2);
        tf.dispose([b.x, b.y]);
      }
      const t = takeTensors(ds, [1, 2]);
      tf.dispose([t.x, t.y]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('takeTensors and perClassCounts', () => {
  test('explicit indices, in the given order; bad index is a UserError', () => {
    const ds = tinyDataset(6, 2, 2, 3);
    const { x, y } = takeTensors(ds, [4, 0]);
    expect(x.shape).toEqual([2, 2, 2, 3]);
    expect(Array.from(y.dataSync())).toEqual([1, 0]);
    const xs = x.dataSync();
    expect(xs[0] * 255).toBeCloseTo(48, 4);
    expect(xs[12] * 255).toBeCloseTo(0, 4);
    tf.dispose([x, y]);
    expect(() => takeTensors(ds, [6])).toThrow(/index 6 is out of range/);
    expect(() => takeTensors(ds, [])).toThrow(UserError);
  });

  test('perClassCounts', () => {
    expect(perClassCounts(tinyDataset(7))).toEqual([3, 2, 2]);
  });
});
