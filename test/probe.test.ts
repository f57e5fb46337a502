import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import yargs from 'yargs';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { rowCorrelations, layerSimilarity, standardizeRows, probeNetwork, probeExtra } from '../src/probe/similarity';
import { optimizerSweepExtras } from '../src/probe/sweep';
import { probeCommand } from '../src/cli/commands/probe';
import { saveCheckpoint } from '../src/training/checkpoint';
import { readExtras } from '../reports/extras';
import type { ModelRecord, RunRecord } from '../src/results/schema';

const tiny = (p: Partial<ModelConfig> = {}): ModelConfig =>
  defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 4, ...p });

/** Independent Pearson correlation, the textbook formula. */
function pearson(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    cov += (a[i] - ma) * (b[i] - mb);
    va += (a[i] - ma) ** 2;
    vb += (b[i] - mb) ** 2;
  }
  return cov / Math.sqrt(va * vb);
}

let x: tf.Tensor4D;
beforeAll(async () => {
  await initBackend('wasm', true);
  x = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 21) as tf.Tensor4D;
});
afterAll(() => x.dispose());

describe('Pearson correlation of per-example features', () => {
  it('hand cases: scaled copy 1, reversed -1, orthogonal 0, constant 0', () => {
    const a = tf.tensor2d([[1, 2, 3, 4], [1, 2, 3, 4], [1, 0, -1, 0], [5, 5, 5, 5]]);
    const b = tf.tensor2d([[2, 4, 6, 8], [4, 3, 2, 1], [0, 1, 0, -1], [1, 2, 3, 4]]);
    const r = Array.from(rowCorrelations(a, b));
    expect(r[0]).toBeCloseTo(1, 6);
    expect(r[1]).toBeCloseTo(-1, 6);
    expect(r[2]).toBeCloseTo(0, 6);
    expect(r[3]).toBe(0);
    tf.dispose([a, b]);
  });

  it('same-class / different-class / clean-vs-adv means match the textbook formula on a small case', () => {
    const clean = [[1, 2, 0, 1], [2, 3, 1, 1], [0, 1, 4, 2], [1, 0, 3, 3]];
    const adv = [[1, 2, 1, 1], [3, 1, 1, 0], [0, 1, 4, 1], [2, 0, 3, 3]];
    const labels = [0, 0, 1, 1];
    const zc = standardizeRows(tf.tensor2d(clean));
    const za = standardizeRows(tf.tensor2d(adv));
    const s = layerSimilarity(zc, za, labels);
    expect(s.cleanVsAdv).toBeCloseTo(clean.reduce((t, c, i) => t + pearson(c, adv[i]), 0) / 4, 5);
    expect(s.sameClass).toBeCloseTo((pearson(clean[0], clean[1]) + pearson(clean[2], clean[3])) / 2, 5);
    const diffPairs = [[0, 2], [0, 3], [1, 2], [1, 3]];
    expect(s.differentClass).toBeCloseTo(diffPairs.reduce((t, [i, j]) => t + pearson(clean[i], clean[j]), 0) / 4, 5);
    expect(() => layerSimilarity(zc, za, [0, 1, 2, 3])).toThrow(/two images of one class/);
    tf.dispose([zc, za]);
  });
});

describe('probeNetwork', () => {
  const labels = [0, 0, 1, 1, 2, 2, 3, 3];

  it('identical clean and adversarial inputs correlate 1 at every layer; layers run low to high level', () => {
    const net = new Network(tiny());
    const { layers, curve } = probeNetwork(net, x, x, labels, { model: 'm', attack: 'none', eps: 0 }, 3);
    expect(layers).toEqual(['input', 'conv1', 'pool1', 'conv2', 'pool2', 'conv3', 'conv4', 'pool3', 'conv5', 'conv6', 'pool4', 'conv7', 'conv8', 'pool5', 'head/dense1', 'head/dense2', 'logits']);
    for (const v of curve.cleanVsAdv) expect(v).toBeCloseTo(1, 4);
    // input layer: the pixel correlations of the clean pairs, computed directly
    const px = Array.from({ length: 8 }, (_, i) => Array.from(tf.tidy(() => tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]).dataSync())));
    expect(curve.sameClass[0]).toBeCloseTo([0, 2, 4, 6].reduce((t, i) => t + pearson(px[i], px[i + 1]), 0) / 4, 4);
    net.dispose();
  });

  it('a perturbation lowers the input correlation below 1; the output is valid report extras; memory flat', () => {
    const net = new Network(tiny({ defense: 'optical', training: 'hybrid' }));
    const adv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -0.1, 0.1, 'float32', 2)), 0, 1) as tf.Tensor4D);
    const r = probeNetwork(net, x, adv, labels, { model: 'opt' });
    expect(r.layers).toContain('head/opu');
    expect(r.curve.cleanVsAdv[0]).toBeLessThan(0.99);
    expect(r.curve.cleanVsAdv[0]).toBeGreaterThan(0.8);
    const extras = readExtras({ probe: probeExtra([r]) });
    expect(extras.problems).toEqual([]);
    expect(extras.probe?.curves).toHaveLength(1);
    const before = tf.memory().numTensors;
    probeNetwork(net, x, adv, labels, { model: 'opt' }, 5);
    expect(tf.memory().numTensors).toBe(before);
    const vgg13 = new Network(tiny({ architecture: 'vgg13' }));
    // different backbones/heads are compared on the layers they share, in the first model's order
    const other = probeNetwork(vgg13, x, x, labels, { model: 'v13' });
    const both = probeExtra([r, other]);
    expect(both.layers).toEqual(r.layers.filter((l) => other.layers.includes(l)));
    expect(both.layers.length).toBeLessThan(r.layers.length + 1);
    for (const c of both.curves) expect(c.cleanVsAdv).toHaveLength(both.layers.length);
    expect(both.curves[0].cleanVsAdv).toEqual(both.layers.map((l) => r.curve.cleanVsAdv[r.layers.indexOf(l)]));
    vgg13.dispose();
    adv.dispose();
    net.dispose();
  });
});

describe('opulab probe command', () => {
  it('attacks a checkpoint with PGD and writes the extras.probe section', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-probe-'));
    const net = new Network(tiny());
    saveCheckpoint(path.join(dir, 'ckpt'), net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), { dataset: 'synthetic', seed: 0 }, {});
    net.dispose();
    const out = path.join(dir, 'probe.json');
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await yargs(['probe', '--checkpoint', path.join(dir, 'ckpt'), '--attack', 'pgd', '--eps', '8/255', '--steps', '3', '--samples', '24', '--batch-size', '12', '--out', out])
        .option('seed', { type: 'number', default: 0 })
        .option('backend', { type: 'string', default: 'wasm' })
        .command(probeCommand as never)
        .strict()
        .parseAsync();
    } finally {
      write.mockRestore();
      err.mockRestore();
    }
    const probe = JSON.parse(fs.readFileSync(out, 'utf8'));
    const extras = readExtras({ probe });
    expect(extras.problems).toEqual([]);
    const c = extras.probe!.curves[0];
    expect(c).toMatchObject({ model: 'vgg11-w0.125-none-bp', attack: 'pgd', eps: 8 / 255 });
    expect(c.cleanVsAdv[0]).toBeLessThan(1);
    expect(c.cleanVsAdv[0]).toBeGreaterThan(0.5);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('optimizerSweepExtras', () => {
  const model = (id: string, architecture: string, optimizer: unknown, clean: number): ModelRecord => ({ id, architecture, cleanAccuracy: clean, n: 100, train: { optimizer } });
  const run = (m: string, attack: string, eps: number, robust: number, gradient?: string): RunRecord => ({
    model: m, attack, threat: 'white-box', norm: 'linf', eps, epsSpace: 'pixel', params: {}, n: 100, cleanAccuracy: 0.5, robustAccuracy: robust, ...(gradient ? { gradient } : {}),
  });
  it('one row per model with backbone, optimizer, clean and worst-case robust accuracy at the largest pgd eps', () => {
    const models = [model('a', 'vgg16', 'sgd', 0.6), model('b', 'repvgg-a0', { name: 'adamw', lr: 1e-3 }, 0.55), model('c', 'vgg16', undefined, 0.4)];
    const runs = [run('a', 'pgd', 2 / 255, 0.3), run('a', 'pgd', 8 / 255, 0.1, 'natural'), run('a', 'pgd', 8 / 255, 0.05, 'bpda-true'), run('b', 'fgsm', 8 / 255, 0.2), run('b', 'pgd', 8 / 255, 0.15)];
    const rows = optimizerSweepExtras(models, runs);
    expect(rows).toEqual([
      { backbone: 'vgg16', optimizer: 'sgd', cleanAccuracy: 0.6, model: 'a', robustAccuracy: 0.05, attack: 'pgd', eps: 8 / 255, gradient: 'bpda-true' },
      { backbone: 'repvgg-a0', optimizer: 'adamw', cleanAccuracy: 0.55, model: 'b', robustAccuracy: 0.15, attack: 'pgd', eps: 8 / 255 },
    ]);
    expect(optimizerSweepExtras(models, runs, { attack: 'pgd', eps: 2 / 255 })[0].robustAccuracy).toBe(0.3);
    expect(optimizerSweepExtras(models, runs, { attack: 'fgsm' })[0].robustAccuracy).toBeUndefined();
    expect(readExtras({ optimizerSweep: rows }).problems).toEqual([]);
  });
});

describe('examples/optimizer-sweep.json', () => {
  it('is a valid spec crossing vgg16 and repvgg-a0 with sgd, adam, adamw, rmsprop, attacked by PGD', async () => {
    const { readSpecFile } = await import('../src/experiments/spec');
    const spec = readSpecFile(path.join(__dirname, '..', 'examples', 'optimizer-sweep.json'));
    const pairs = spec.models.map((m) => `${m.architecture}/${m.train.optimizer}`).sort();
    expect(pairs).toEqual(['repvgg-a0/adam', 'repvgg-a0/adamw', 'repvgg-a0/rmsprop', 'repvgg-a0/sgd', 'vgg16/adam', 'vgg16/adamw', 'vgg16/rmsprop', 'vgg16/sgd']);
    expect(spec.models.find((m) => m.train.optimizer === 'sgd')?.train.momentum).toBe(0.9);
    expect(spec.attacks.map((a) => a.attack)).toEqual(['pgd']);
  });
});
