/**
 * The library entry (src/index.ts) in-process: the exported loaders, attacks, evaluation loop and writers are the
 * CLI's own, loadCheckpoint gives the same classifier as the CLI's composition, and writeResults/writeReport
 * produce a results.json (with checks and per-example records) and a report.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as opulab from '../src/index';
import { Pgd as CliPgd } from '../attacks/whitebox/pgd';
import { createAttack } from '../attacks/registry';
import { Network } from '../src/models/network';
import { defaultModelConfig } from '../src/models/config';
import { classifierFor } from '../src/models/classifier';
import { saveCheckpoint } from '../src/training/checkpoint';
import { UserError } from '../src/util/errors';
import { makeRng } from '../src/util/rng';
import { maxRelErr } from './helpers/numeric';
import { residualModel, writeModel } from './helpers/onnx-models';
import { loadOnnxClassifier as loadOnnxDirect } from '../src/import/onnx';

let tmp: string;
beforeAll(async () => {
  await opulab.initBackend('cpu', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-api-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function images(n: number, seed: number): tf.Tensor4D {
  const rng = makeRng(seed, 'api-images');
  return tf.tensor4d(Float32Array.from({ length: n * 32 * 32 * 3 }, () => rng.uniform()), [n, 32, 32, 3]);
}

test('the entry exports the CLI classes and functions themselves', () => {
  expect(opulab.Pgd).toBe(CliPgd);
  expect(opulab.createAttack).toBe(createAttack);
  expect(createAttack('square')).toBeInstanceOf(opulab.SquareAttack);
  for (const f of [opulab.loadOnnxClassifier, opulab.loadModelFile, opulab.checkModelFile, opulab.loadTfjsClassifier, opulab.fromTfjsModel, opulab.loadCheckpoint, opulab.evaluateAttack, opulab.computeChecks, opulab.writeResults, opulab.writeReport, opulab.withEngine, opulab.loadDataset, opulab.takeTensors]) {
    expect(typeof f).toBe('function');
  }
});

test('loadCheckpoint: the same logits and gradient mode as the CLI path; an unknown mode is a UserError', async () => {
  const dir = path.join(tmp, 'ckpt');
  const config = defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, dropout: 0, seed: 3, defense: 'optical', training: 'hybrid' });
  const net = new Network(config);
  saveCheckpoint(dir, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
  const x = images(3, 1);
  const want = classifierFor(net, 'bpda-random').logits(x);
  const loaded = opulab.loadCheckpoint(dir, { gradient: 'bpda-random' });
  expect(loaded.classifier.gradientMode).toBe('bpda-random');
  const got = loaded.classifier.logits(x);
  expect(maxRelErr(await want.data(), await got.data())).toBeLessThan(1e-6);
  expect(() => opulab.loadCheckpoint(dir, { gradient: 'no-such-mode' })).toThrow(UserError);
  tf.dispose([x, want, got]);
  loaded.dispose();
  net.dispose();
});

test('writeResults and writeReport: results.json with checks and per-example records, then the report', async () => {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [32, 32, 3] }));
  m.add(tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotNormal({ seed: 5 }) }));
  const model = opulab.fromTfjsModel(m, { id: 'linear' });
  const x = images(8, 2);
  const pred = tf.tidy(() => tf.argMax(model.logits(x), 1));
  const labels = Int32Array.from(await pred.data());
  pred.dispose();
  const opts = { seed: 0, batchSize: 4, epsSpace: 'pixel' as const, modelId: model.id };
  const runs = await opulab.evaluateAttack(model, { x, labels }, new opulab.Pgd({ steps: 5, stepSize: 2 / 255 }), [1 / 255, 8 / 255], opts);
  expect(runs.map((r) => r.run.cleanAccuracy)).toEqual([1, 1]);
  // a linear model is broken by an 8/255 PGD at least as much as by 1/255
  expect(runs[1].run.robustAccuracy).toBeLessThanOrEqual(runs[0].run.robustAccuracy);
  expect(runs[1].run.robustAccuracy).toBeLessThan(1);
  const dir = path.join(tmp, 'out');
  const results = opulab.writeResults(dir, runs, { seed: 0 });
  expect(results.models).toEqual([{ id: 'linear', cleanAccuracy: 1, n: 8 }]);
  const onDisk = opulab.loadResultsFile(path.join(dir, 'results.json'));
  expect(onDisk.runs).toHaveLength(2);
  expect(onDisk.checks.map((c) => c.id)).toContain('C3');
  expect(fs.readFileSync(path.join(dir, onDisk.runs[1].perSample!), 'utf8').trim().split('\n')).toHaveLength(8);
  const { out, checks } = opulab.writeReport(path.join(dir, 'results.json'));
  expect(out).toBe(path.join(dir, 'report.html'));
  expect(checks).toEqual(onDisk.checks);
  expect(fs.readFileSync(out, 'utf8')).toContain('linear');
  expect(() => opulab.writeResults(dir, [])).toThrow(/expected at least one run/);
  expect(() => opulab.writeReport(path.join(dir, 'results.json'), { out: path.join(dir, 'results.json') })).toThrow(UserError);
  x.dispose();
  m.dispose();
});

test('a model that outputs probabilities: its runs record lossInput probabilities and check C12 fails', async () => {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [32, 32, 3] }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 6 }) }));
  const model = opulab.fromTfjsModel(m, { id: 'softmax-model' });
  expect(model.output).toBe('probabilities');
  const x = images(4, 3);
  const runs = await opulab.evaluateAttack(model, { x, labels: Int32Array.from([0, 1, 2, 3]) }, new opulab.Fgsm(), [8 / 255], {
    seed: 0,
    batchSize: 4,
    epsSpace: 'pixel',
    modelId: model.id,
  });
  expect(runs[0].run.params.lossInput).toBe('probabilities');
  const results = opulab.writeResults(path.join(tmp, 'probs'), runs);
  const c12 = results.checks.find((c) => c.id === 'C12')!;
  expect(c12.status).toBe('fail');
  expect(c12.detail).toMatch(/probabilities/);
  x.dispose();
  m.dispose();
});

test('loadOnnxClassifier and loadModelFile from the entry load an ONNX file as the CLI does', async () => {
  const file = writeModel(tmp, 'residual.onnx', residualModel());
  const viaEntry = opulab.loadOnnxClassifier(file);
  const direct = loadOnnxDirect(file);
  const loaded = await opulab.loadModelFile(file);
  const x = tf.tidy(() => tf.slice(images(4, 3), [0, 0, 0, 0], [4, 8, 8, 3]));
  const [a, b, c] = [viaEntry.logits(x), direct.logits(x), loaded.classifier.logits(x)];
  expect(maxRelErr(a.dataSync(), b.dataSync())).toBe(0);
  expect(maxRelErr(c.dataSync(), b.dataSync())).toBe(0);
  expect(loaded.info.outputKind).toBe('logits');
  tf.dispose([a, b, c, x]);
  viaEntry.dispose();
  direct.dispose();
  loaded.dispose();
});
