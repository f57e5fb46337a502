/**
 * `opulab export` and `--model` round trip: an opulab checkpoint exported to ONNX and attacked as a model file
 * gives the same clean predictions and the same PGD and Square records as the checkpoint itself; and the CLI's
 * model-file errors (an unsupported operator: one line, exit 2, nothing written).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { runCli } from './helpers/cli';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig } from '../src/models/config';
import { saveCheckpoint } from '../src/training/checkpoint';
import { makeRng } from '../src/util/rng';
import type { ResultsFile, PerSampleRecord } from '../src/results/schema';
import { computeChecks } from '../reports/checks';
import { tempDir, unsupportedModel, residualModel, writeModel } from './helpers/onnx-models';

const tmp = tempDir('opulab-roundtrip-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const run = runCli;

const common = ['--backend', 'wasm', '--seed', '3', '--workers', '1'];

function perSample(file: string, r: ResultsFile, i: number): PerSampleRecord[] {
  return fs.readFileSync(path.join(path.dirname(file), r.runs[i].perSample!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PerSampleRecord);
}

describe('export and --model round trip', () => {
  const ckpt = path.join(tmp, 'ckpt');
  const onnxFile = path.join(tmp, 'vgg.onnx');

  beforeAll(async () => {
    await initBackend('wasm', true);
    // a baseline VGG with seeded, non-trivial BatchNorm statistics (a "trained-like" model)
    const net = new Network(defaultModelConfig({ architecture: 'vgg11', width: 0.125, defense: 'none', training: 'bp', dropout: 0, seed: 4 }));
    const rng = makeRng(4, 'bn');
    for (const p of net.store.list()) {
      const n = p.variable.size;
      if (p.name.endsWith('running_var') || p.name.endsWith('gamma')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(0.5, 1.5)), p.variable.shape));
      else if (p.name.endsWith('running_mean') || p.name.endsWith('beta')) p.variable.assign(tf.tensor(Float32Array.from({ length: n }, () => rng.range(-0.2, 0.2)), p.variable.shape));
    }
    saveCheckpoint(ckpt, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), { dataset: 'synthetic', seed: 0 }, {});
    net.dispose();
    const e = await run(['export', ckpt, '--out', onnxFile, ...common]);
    expect(e.code).toBe(0);
  });

  test.each([
    ['pgd', ['--attack', 'pgd', '--eps', '2/255,8/255', '--steps', '3']],
    ['square', ['--attack', 'square', '--eps', '8/255', '--queries', '30']],
  ])('%s: the same records from the checkpoint and from its ONNX export', async (name, attackArgs) => {
    const a = path.join(tmp, `${name}-ckpt`, 'results.json');
    const b = path.join(tmp, `${name}-file`, 'results.json');
    const ra = await run(['attack', '--checkpoint', ckpt, ...attackArgs, '--samples', '12', '--batch-size', '6', '--engine', 'tfjs', '--out', a, ...common]);
    expect(ra.err).not.toMatch(/internal error/);
    expect(ra.code).toBe(0);
    const rb = await run(['attack', '--model', onnxFile, '--dataset', 'synthetic', ...attackArgs, '--samples', '12', '--batch-size', '6', '--out', b, ...common]);
    expect(rb.err).not.toMatch(/internal error/);
    expect(rb.code).toBe(0);
    expect(rb.err).toMatch(/NHWC input 32x32x3 .*10 classes, output logits .*queries on onnxruntime, gradient on onnxruntime \(natural\)/);
    const A = JSON.parse(fs.readFileSync(a, 'utf8')) as ResultsFile;
    const B = JSON.parse(fs.readFileSync(b, 'utf8')) as ResultsFile;
    expect(B.models[0]).toMatchObject({ id: 'file:vgg.onnx', architecture: 'imported', cleanAccuracy: A.models[0].cleanAccuracy, n: 12 });
    const info = B.models[0].modelFile as Record<string, unknown>;
    expect(info).toMatchObject({ file: onnxFile, layout: 'nhwc', outputKind: 'logits', classes: 10, format: 'onnx' });
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(B.runs.length).toBe(A.runs.length);
    A.runs.forEach((run, i) => {
      const pa = perSample(a, A, i);
      const pb = perSample(b, B, i);
      expect(pb.map((p) => p.cleanPrediction)).toEqual(pa.map((p) => p.cleanPrediction));
      expect(pb.map((p) => p.adversarialPrediction)).toEqual(pa.map((p) => p.adversarialPrediction));
      expect(pb.map((p) => p.success)).toEqual(pa.map((p) => p.success));
      if (name === 'square') expect(pb.map((p) => p.queries)).toEqual(pa.map((p) => p.queries));
      expect(B.runs[i].robustAccuracy).toBe(run.robustAccuracy);
    });
  });

  test('transfer: a model file as source or target gives the same records as the checkpoint in its place', async () => {
    const a = path.join(tmp, 'tr-a', 'results.json');
    const b = path.join(tmp, 'tr-b', 'results.json');
    const args = ['--attack', 'pgd', '--eps', '8/255', '--steps', '3', '--samples', '8', '--batch-size', '8', '--dataset', 'synthetic', ...common];
    const ra = await run(['transfer', '--source', ckpt, '--targets', onnxFile, '--out', a, ...args]);
    expect(ra.err).not.toMatch(/internal error/);
    expect(ra.code).toBe(0);
    const rb = await run(['transfer', '--source', onnxFile, '--targets', ckpt, '--out', b, ...args]);
    expect(rb.code).toBe(0);
    const A = JSON.parse(fs.readFileSync(a, 'utf8')) as ResultsFile;
    const B = JSON.parse(fs.readFileSync(b, 'utf8')) as ResultsFile;
    expect(A.runs[0]).toMatchObject({ source: 'vgg11-w0.125-none-bp', model: 'file:vgg.onnx' });
    expect(B.runs[0]).toMatchObject({ source: 'file:vgg.onnx', model: 'vgg11-w0.125-none-bp' });
    expect(A.models.find((m) => m.id === 'file:vgg.onnx')?.modelFile).toMatchObject({ format: 'onnx' });
    expect(perSample(b, B, 0).map((p) => p.adversarialPrediction)).toEqual(perSample(a, A, 0).map((p) => p.adversarialPrediction));
    expect(B.runs[0].robustAccuracy).toBe(A.runs[0].robustAccuracy);
  });

  test('an unsupported operator: one line naming it and its node, exit 2, nothing written', async () => {
    const file = writeModel(tmp, 'lrn.onnx', unsupportedModel());
    const out = path.join(tmp, 'lrn', 'results.json');
    const r = await run(['attack', '--model', file, '--attack', 'pgd', '--eps', '8/255', '--samples', '4', '--dataset', 'synthetic', '--out', out, ...common]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n').filter((l) => l.startsWith('opulab:'))).toEqual([expect.stringMatching(/^opulab: unsupported ONNX operator 'LRN' in node 'n_lrn'/)]);
    expect(r.out).toBe('');
    expect(fs.existsSync(out)).toBe(false);
  });

  test('flag errors: --checkpoint with --model, a model flag without --model, a bad --mean', async () => {
    const a = await run(['attack', '--checkpoint', ckpt, '--model', onnxFile, '--attack', 'fgsm', ...common]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/give exactly one of --checkpoint DIR or --model FILE/);
    const b = await run(['attack', '--checkpoint', ckpt, '--std', '0.5', '--attack', 'fgsm', ...common]);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--std applies to a model file/);
    const c = await run(['attack', '--model', onnxFile, '--mean', 'a,b', '--std', '1', '--attack', 'fgsm', ...common]);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/bad --mean 'a,b'/);
    const d = await run(['attack', '--model', onnxFile, '--gradient', 'bpda-random', '--attack', 'fgsm', ...common]);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/unknown gradient mode 'bpda-random' for an imported model: expected one of natural, bpda-identity/);
  });

  test('a probabilities output is recorded and check C12 fails the attack on it', async () => {
    // a 32x32 variant is not needed: the check reads the run's params, so attack the 8x8 model through the API
    const file = writeModel(tmp, 'probs.onnx', residualModel({ softmax: true }));
    const { loadModelFile } = await import('../src/import');
    const { markLossInput } = await import('../src/experiments/imported');
    const m = await loadModelFile(file, { announce: false });
    try {
      expect(m.info.outputKind).toBe('probabilities');
      const runs: ResultsFile['runs'] = [{ model: m.classifier.id, attack: 'pgd', threat: 'white-box', norm: 'linf', eps: 8 / 255, epsSpace: 'pixel', params: { loss: 'ce' }, n: 4, cleanAccuracy: 0.5, robustAccuracy: 0.25 } as ResultsFile['runs'][number]];
      markLossInput(runs, m.info);
      expect(runs[0].params.lossInput).toMatch(/probabilities .*Softmax/);
      const results = { schema: 'opulab.results/2', environment: {}, models: [], runs, checks: [] } as unknown as ResultsFile;
      const c12 = computeChecks(results, () => null).find((c) => c.id === 'C12')!;
      expect(c12.status).toBe('fail');
      expect(c12.detail).toMatch(/probabilities/);
    } finally {
      m.dispose();
    }
  });
});
