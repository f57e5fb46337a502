/** The profiling and OPU-throughput scripts' pure parts (src/bench/profile.ts, src/bench/opu-bench.ts), tiny sizes. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index';
import { aggregateKernels, formatProfile } from '../src/bench/profile';
import { benchOpu, parseSize } from '../src/bench/opu-bench';
import { UserError } from '../src/util/errors';

beforeAll(async () => {
  await initBackend('wasm', true);
});

describe('profile table', () => {
  test('aggregates by kernel name, sorts by time, and accounts the rest of the step', () => {
    const rows = aggregateKernels(
      [
        { name: 'Conv2D', kernelTimeMs: 3 },
        { name: 'Add', kernelTimeMs: 1 },
        { name: 'Conv2D', kernelTimeMs: 4 },
      ],
      10,
    );
    expect(rows).toEqual([
      { kernel: 'Conv2D', totalMs: 7, calls: 2, percentOfStep: 70 },
      { kernel: 'Add', totalMs: 1, calls: 1, percentOfStep: 10 },
      { kernel: '(outside kernels)', totalMs: 2, calls: 0, percentOfStep: 20 },
    ]);
    const text = formatProfile({ workload: 'train', width: 0.25, batch: 64, stepMs: 10, unprofiledStepMs: 8, rows }, 1, [1, 2, 3]);
    expect(text).toContain('(1 other kernels)');
    expect(text).toContain('8000.0 img/s');
  });
});

describe('opu bench', () => {
  test('parses INxOUT and rejects anything else with a UserError naming it', () => {
    expect(parseSize('1024x8000')).toEqual([1024, 8000]);
    expect(() => parseSize('1024*8000')).toThrow(UserError);
    expect(() => parseSize('1024*8000')).toThrow(/1024\*8000/);
  });

  test('a tiny run reports the 2 kHz device rate and consistent rates, leaving memory flat', () => {
    benchOpu(16, 40, 'physical', 4, 1, 0); // warm-up allocations
    const before = tf.memory().numTensors;
    const rec = benchOpu(16, 40, 'reference', 4, 1, 0);
    expect(tf.memory().numTensors).toBe(before);
    expect(rec.device_projections_per_s).toBe(2000);
    expect(rec.forward_projections_per_s).toBeGreaterThan(0);
    expect(rec.grad_projections_per_s).toBeGreaterThan(0);
    expect([rec.opu_in, rec.opu_out, rec.batch, rec.mode]).toEqual([16, 40, 4, 'reference']);
    expect(rec.forward_vs_device).toBeCloseTo(rec.forward_projections_per_s / 2000, 2);
  });
});
