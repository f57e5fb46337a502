import * as path from 'path';
/** Data-parallel benchmark workloads (src/parallel/bench-parallel.ts) and the bench:compare table. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { BenchModel, benchForwardMacs } from '../src/bench/workloads';
import { ParallelBench } from '../src/parallel/bench-parallel';
import { formatRatioTable, parseBenchLines, ratioRows, repoRoot } from '../src/bench/compare';
import type { BenchRecord } from '../src/bench/workloads';

beforeAll(async () => {
  await initBackend('wasm', true);
});

const rec = (impl: string, workload: BenchRecord['workload'], width: number, img: number): BenchRecord => ({
  impl, workload, width, batch: 64, threads: 2, img_per_s: img, ms_per_batch: 64000 / img,
});

test('compare: parse JSON lines, match by workload and width, ratio = opulab / pytorch', () => {
  const stdout = `noise\n${JSON.stringify(rec('opulab-wasm', 'forward', 0.25, 200))}\n${JSON.stringify(rec('opulab-wasm', 'train', 0.25, 30))}\n`;
  const opulab = parseBenchLines(stdout);
  expect(opulab).toHaveLength(2);
  const rows = ratioRows(opulab, [rec('pytorch', 'forward', 0.25, 400), rec('pytorch', 'forward', 1, 50)]);
  expect(rows).toEqual([
    { impl: 'opulab-wasm', workload: 'forward', width: 0.25, opulab: 200, pytorch: 400, ratio: 0.5 },
    { impl: 'opulab-wasm', workload: 'train', width: 0.25, opulab: 30, pytorch: null, ratio: null },
  ]);
  const table = formatRatioTable(rows).split('\n');
  expect(table[0]).toMatch(/^impl\s+workload\s+width\s+opulab img\/s\s+GFLOP\/s\s+pytorch img\/s\s+ratio$/);
  // GFLOP/s: 2 FLOPs per multiply-add of the bench VGG-16 at width 0.25 (forward 1x, train 3x)
  const gf = (f: number, img: number): string => ((2 * benchForwardMacs(0.25) * f * img) / 1e9).toFixed(1);
  expect(table[2]).toMatch(new RegExp(`^opulab-wasm\\s+forward\\s+0.25\\s+200.0\\s+${gf(1, 200)}\\s+400.0\\s+0.500$`));
  expect(table[3]).toMatch(new RegExp(`^opulab-wasm\\s+train\\s+0.25\\s+30.0\\s+${gf(3, 30)}\\s+-\\s+-$`));
  // VGG-16 width 1 on 32x32: 313 M multiply-adds per image (the known figure for CIFAR VGG-16)
  expect(Math.round(benchForwardMacs(1) / 1e6)).toBe(313);
  expect(repoRoot()).toBe(path.resolve(__dirname, '..'));
});

test('data-parallel train step over 2 workers equals the in-process step on the same images', async () => {
  // Each worker's BenchModel draws the same 2-image batch from the seed, so the mean gradient over the 4-image
  // batch equals the gradient of one 2-image replica, and one parallel step equals one in-process step.
  const par = await ParallelBench.start(0.125, 4, 3, 2);
  const ref = new BenchModel(0.125, 2, 3);
  try {
    expect(par.sizes).toEqual([2, 2]);
    await par.run('forward');
    await par.run('input_grad');
    await par.run('train');
    ref.run('train');
    const before = tf.memory().numTensors; // the first step created the momentum slots
    await par.run('train');
    ref.run('train');
    expect(tf.memory().numTensors).toBe(before);
    const parent = (par as unknown as { parent: BenchModel }).parent;
    const got = parent.store.list().filter((p) => p.trainable);
    const want = ref.store.list().filter((p) => p.trainable);
    let maxDiff = 0;
    got.forEach((p, i) => {
      const a = p.variable.dataSync();
      const b = want[i].variable.dataSync();
      for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k] - b[k]) / (1 + Math.abs(b[k])));
    });
    expect(maxDiff).toBeLessThan(1e-5);
    // The step moved the weights (the comparison above is not vacuous).
    const fresh = new BenchModel(0.125, 1, 3);
    expect(Array.from(fresh.store.list()[0].variable.dataSync())).not.toEqual(Array.from(got[0].variable.dataSync()));
    fresh.dispose();
  } finally {
    await par.close();
    ref.dispose();
  }
});

test('attack throughput on a checkpoint: runs on it with flat tensor counts, and refuses a width other than the checkpoint width', async () => {
  const fs = await import('fs');
  const os = await import('os');
  const { Network } = await import('../src/models/network');
  const { defaultModelConfig } = await import('../src/models/config');
  const { saveCheckpoint } = await import('../src/training/checkpoint');
  const { attackThroughput } = await import('../src/bench/ort-workloads');
  const { UserError } = await import('../src/util/errors');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-bench-ckpt-'));
  try {
    const net = new Network(defaultModelConfig({ architecture: 'vgg11', width: 0.125, defense: 'none', training: 'bp', seed: 3 }));
    saveCheckpoint(dir, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
    net.dispose();
    const before = tf.memory().numTensors;
    const r = await attackThroughput('pgd', 'tfjs', 0.125, 4, 1, 0, dir);
    expect(r.units).toBe(4 * 10);
    expect(r.perSecond).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
    await expect(attackThroughput('pgd', 'tfjs', 0.25, 4, 1, 0, dir)).rejects.toThrow(UserError);
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
