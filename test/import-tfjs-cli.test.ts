/**
 * TensorFlow.js model files on the CLI and in specs: a LayersModel built here and a GraphModel written here
 * (model.json + shard, tfjs io), attacked from the CLI with PGD and Square through `--model model.json`; the
 * same weights as an ONNX file give the same predictions; a spec with "file" entries runs, resumes without
 * redoing work and reruns what a changed file affects; `opulab probe --model`; bad inputs are one line, exit 2.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { runCli } from './helpers/cli';
import { initBackend } from '../src/backend';
import { tfjsFileHandler } from '../src/import/tfjs-io';
import { loadModelFile, modelFileHash } from '../src/import';
import { GraphBuilder } from '../src/engine/onnx-graph';
import { makeRng } from '../src/util/rng';
import { readJournal } from '../src/experiments/store';
import type { ResultsFile, PerSampleRecord } from '../src/results/schema';
import { loadDataset } from '../datasets';
import { computeChecks } from '../reports/checks';
import { tempDir } from './helpers/onnx-models';

const tmp = tempDir('opulab-tfjs-cli-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const common = ['--backend', 'wasm', '--seed', '3', '--workers', '1'];
const layersDir = path.join(tmp, 'layers');
const layersJson = path.join(layersDir, 'model.json');
const graphJson = path.join(tmp, 'graph', 'model.json');
const onnxFile = path.join(tmp, 'same.onnx');

/** conv 3x3 stride 2 + ReLU, max-pool 2, flatten, dense 10: on the synthetic set's 32x32x3 images. */
function layersModel(seed: number): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + s });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(1), biasInitializer: tfl.initializers.constant({ value: 0.05 }), name: 'conv' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 10, kernelInitializer: init(2), name: 'fc' }));
  return m;
}

/** The same network as an ONNX graph: NHWC input, Transpose, Conv, Relu, MaxPool, Transpose back, Flatten, Gemm. */
function onnxOf(m: tfl.LayersModel): Uint8Array {
  const [k, kb, d, db] = m.getWeights().map((t) => t.dataSync() as Float32Array);
  const oihw = tf.tidy(() => tf.transpose(tf.tensor4d(k, [3, 3, 3, 4]), [3, 2, 0, 1]).dataSync() as Float32Array);
  const g = new GraphBuilder();
  const x = g.input('image', ['N', 32, 32, 3]);
  const nchw = g.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'to_nchw');
  const c = g.op('Conv', [nchw, g.float('cw', oihw, [4, 3, 3, 3]), g.float('cb', kb, [4])], { kernel_shape: [3, 3], strides: [2, 2] }, 'conv');
  const r = g.op('Relu', [c], {}, 'relu');
  const p = g.op('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] }, 'pool');
  const nhwc = g.op('Transpose', [p], { perm: [0, 2, 3, 1] }, 'to_nhwc');
  const flat = g.op('Flatten', [nhwc], { axis: 1 }, 'flat');
  const out = g.op('Gemm', [flat, g.float('fw', d, [196, 10]), g.float('fb', db, [10])], {}, 'fc');
  g.output(out, 'logits', ['N', 10]);
  return g.serialize('same-weights');
}

/** A handmade GraphModel (model.json + shard1.bin) on 32x32x3: Reshape, MatMul, BiasAdd, Softmax (a probabilities output). */
function writeGraphModel(file: string): void {
  const rng = makeRng(5, 'graph-w');
  const w = Float32Array.from({ length: 3072 * 10 }, () => rng.range(-0.05, 0.05));
  const b = Float32Array.from({ length: 10 }, () => rng.range(-0.1, 0.1));
  const dim = (sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });
  const constNode = (name: string, dtype: string, shape: number[]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: dim(shape) } }, dtype: { type: dtype } } });
  const T = { T: { type: 'DT_FLOAT' } };
  const node = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim([-1, 32, 32, 3]) } } },
    constNode('shape', 'DT_INT32', [2]),
    constNode('W', 'DT_FLOAT', [3072, 10]),
    constNode('b', 'DT_FLOAT', [10]),
    { name: 'flat', op: 'Reshape', input: ['x', 'shape'], attr: T },
    { name: 'mm', op: 'MatMul', input: ['flat', 'W'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, ...T } },
    { name: 'scores', op: 'BiasAdd', input: ['mm', 'b'], attr: T },
    { name: 'probs', op: 'Softmax', input: ['scores'], attr: T },
    { name: 'out', op: 'Identity', input: ['probs'], attr: T },
  ];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(path.join(path.dirname(file), 'shard1.bin'), Buffer.concat([Buffer.from(new Uint8Array(Int32Array.from([-1, 3072]).buffer)), Buffer.from(w.buffer), Buffer.from(b.buffer)]));
  const weights = [
    { name: 'shape', shape: [2], dtype: 'int32' },
    { name: 'W', shape: [3072, 10], dtype: 'float32' },
    { name: 'b', shape: [10], dtype: 'float32' },
  ];
  fs.writeFileSync(file, JSON.stringify({ format: 'graph-model', generatedBy: 'test', convertedBy: 'test', modelTopology: { node, library: {}, versions: { producer: 1 } }, weightsManifest: [{ paths: ['shard1.bin'], weights }] }));
}

function results(file: string): ResultsFile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
}

function perSample(file: string, r: ResultsFile, i: number): PerSampleRecord[] {
  return fs.readFileSync(path.join(path.dirname(file), r.runs[i].perSample!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PerSampleRecord);
}

/** The stderr lines of a failed command, without the backend line and the help hint. */
function errorLines(err: string): string[] {
  return err.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('opulab: backend') && !l.startsWith("Run 'opulab --help'"));
}

beforeAll(async () => {
  await initBackend('wasm', true);
  const m = layersModel(1);
  await m.save(tfjsFileHandler(layersJson));
  fs.writeFileSync(onnxFile, onnxOf(m));
  m.dispose();
  // the handmade graph, loaded and saved again through the file IOHandler (model.json + weights.bin)
  const src = path.join(tmp, 'graph-src', 'model.json');
  writeGraphModel(src);
  const g = await loadGraphModel(tfjsFileHandler(src));
  await g.save(tfjsFileHandler(graphJson));
  g.dispose();
});

describe('--model model.json from the CLI', () => {
  test('a LayersModel: PGD and Square through --model, robust <= clean, queries and the TF.js record', async () => {
    const out = path.join(tmp, 'layers-res', 'results.json');
    const model = ['--model', layersJson, '--mean', '0.5', '--std', '0.25', '--dataset', 'synthetic', '--samples', '12', '--batch-size', '6', '--out', out, ...common];
    const before = tf.memory().numTensors;
    const a = await runCli(['attack', ...model, '--attack', 'pgd', '--eps', '8/255', '--steps', '3']);
    expect(a.err).not.toMatch(/internal error/);
    expect(a.code).toBe(0);
    // the loaded model (here and in the in-process evaluation chunk runner) is released
    expect(tf.memory().numTensors).toBe(before);
    expect(a.err).toMatch(/NHWC input 32x32x3 .*10 classes, output logits .*tfjs-layers-model, queries on tfjs/);
    const b = await runCli(['attack', ...model, '--attack', 'square', '--eps', '8/255', '--queries', '30']);
    expect(b.code).toBe(0);
    const r = results(out);
    expect(r.models).toHaveLength(1);
    expect(r.models[0]).toMatchObject({ id: 'file:layers/model.json', architecture: 'imported', n: 12, normalizationStd: [0.25, 0.25, 0.25] });
    expect(r.models[0].modelFile).toMatchObject({
      file: layersJson,
      format: 'tfjs-layers-model',
      shards: ['weights.bin'],
      layout: 'nhwc',
      classes: 10,
      outputKind: 'logits',
      normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      sha256: modelFileHash(layersJson),
    });
    expect(r.runs.map((x) => x.attack)).toEqual(['pgd', 'square']);
    for (const run of r.runs) {
      expect(run.robustAccuracy).toBeLessThanOrEqual(run.cleanAccuracy);
      expect(run.params.lossInput).toBeUndefined();
    }
    expect(r.runs[0].cleanAccuracy).toBe(r.models[0].cleanAccuracy);
    expect(r.runs[1].queries?.median).toBeGreaterThan(0);
    const ps = perSample(out, r, 1);
    expect(ps).toHaveLength(12);
    for (const p of ps.filter((q) => q.cleanPrediction === q.label)) expect(p.queries).toBeGreaterThanOrEqual(1);
  });

  test('a GraphModel ending in Softmax: attacked, recorded as probabilities, and check C12 fails it', async () => {
    const out = path.join(tmp, 'graph-res', 'results.json');
    const r = await runCli(['attack', '--model', graphJson, '--dataset', 'synthetic', '--attack', 'pgd', '--eps', '8/255', '--steps', '2', '--samples', '8', '--batch-size', '8', '--out', out, ...common]);
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: the model outputs probabilities/);
    const res = results(out);
    expect(res.models[0].modelFile).toMatchObject({ format: 'tfjs-graph-model', outputKind: 'probabilities', shards: ['weights.bin'] });
    expect(String((res.models[0].modelFile as { outputSource: string }).outputSource)).toMatch(/Softmax node probs/);
    expect(res.runs[0].params.lossInput).toMatch(/probabilities/);
    expect(res.runs[0].robustAccuracy).toBeLessThanOrEqual(res.runs[0].cleanAccuracy);
    const c12 = computeChecks(res, () => null).find((c) => c.id === 'C12')!;
    expect(c12.status).toBe('fail');
    expect(c12.detail).toMatch(/probabilities/);
  });

  test('the same weights as ONNX and as TF.js give the same logits and the same clean predictions from the CLI', async () => {
    const t = await loadModelFile(layersJson);
    const o = await loadModelFile(onnxFile, { announce: false });
    const data = loadDataset('synthetic', 'test', { limit: 16 });
    const x = tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(data.images), [16, 32, 32, 3]), 255) as tf.Tensor4D);
    try {
      const a = tf.tidy(() => t.classifier.logits(x).arraySync() as number[][]);
      const b = tf.tidy(() => o.classifier.logits(x).arraySync() as number[][]);
      let worst = 0;
      a.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j])))));
      expect(worst).toBeLessThan(1e-4);
      expect(a.map((r) => r.indexOf(Math.max(...r)))).toEqual(b.map((r) => r.indexOf(Math.max(...r))));
    } finally {
      x.dispose();
      t.dispose();
      o.dispose();
    }
    const outs = [path.join(tmp, 'same-t', 'results.json'), path.join(tmp, 'same-o', 'results.json')];
    for (const [file, out] of [[layersJson, outs[0]], [onnxFile, outs[1]]]) {
      const r = await runCli(['attack', '--model', file, '--dataset', 'synthetic', '--attack', 'fgsm', '--eps', '2/255', '--samples', '12', '--batch-size', '12', '--out', out, ...common]);
      expect(r.code).toBe(0);
    }
    const [A, B] = outs.map(results);
    expect(A.models[0].cleanAccuracy).toBe(B.models[0].cleanAccuracy);
    expect(perSample(outs[0], A, 0).map((p) => p.cleanPrediction)).toEqual(perSample(outs[1], B, 0).map((p) => p.cleanPrediction));
  });

  test('transfer: a TF.js model as the source and an ONNX file as the target', async () => {
    const out = path.join(tmp, 'tr', 'results.json');
    const r = await runCli(['transfer', '--source', layersJson, '--targets', onnxFile, '--dataset', 'synthetic', '--attack', 'pgd', '--eps', '8/255', '--steps', '2', '--samples', '8', '--batch-size', '8', '--out', out, ...common]);
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    const res = results(out);
    expect(res.runs[0]).toMatchObject({ source: 'file:layers/model.json', model: 'file:same.onnx' });
    expect(res.models.map((m) => (m.modelFile as { format: string }).format).sort()).toEqual(['onnx', 'tfjs-layers-model']);
  });
});

describe('opulab probe --model', () => {
  test('a TF.js model and an ONNX file of the same weights: their activation/pool layers, compared on shared names', async () => {
    const out = path.join(tmp, 'probe.json');
    const before = tf.memory().numTensors;
    const r = await runCli(['probe', '--model', layersJson, '--dataset', 'synthetic', '--attack', 'fgsm', '--eps', '4/255', '--samples', '16', '--batch-size', '8', '--out', out, ...common]);
    expect(r.err).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    // the model, its layer outputs and every feature row are released
    expect(tf.memory().numTensors).toBe(before);
    const probe = JSON.parse(fs.readFileSync(out, 'utf8')) as { layers: string[]; curves: { model: string; cleanVsAdv: number[]; sameClass: number[] }[] };
    expect(probe.layers).toEqual(['input', 'conv', 'pool', 'logits']);
    const c = probe.curves[0];
    expect(c.model).toBe('file:layers/model.json');
    for (const v of [...c.cleanVsAdv, ...c.sameClass]) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-5);
    // a 4/255 perturbation leaves the pixels almost unchanged
    expect(c.cleanVsAdv[0]).toBeGreaterThan(0.95);
    const both = path.join(tmp, 'probe-both.json');
    const r2 = await runCli(['probe', '--model', layersJson, '--model', onnxFile, '--dataset', 'synthetic', '--attack', 'fgsm', '--eps', '4/255', '--samples', '16', '--batch-size', '8', '--out', both, ...common]);
    expect(r2.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const p2 = JSON.parse(fs.readFileSync(both, 'utf8')) as { layers: string[]; curves: { model: string; cleanVsAdv: number[]; sameClass: number[] }[] };
    // the ONNX file's layers are its nodes n_relu and n_pool: none shares a name with a TF.js layer, so the two
    // are compared on input and logits
    expect(p2.layers).toEqual(['input', 'logits']);
    // the same weights: the same clean features, so the same same-class similarity at every shared layer
    p2.layers.forEach((_, i) => expect(p2.curves[1].sameClass[i]).toBeCloseTo(p2.curves[0].sameClass[i], 4));
    // a GraphModel: its MatMul node (the Softmax output is the logits)
    const g = path.join(tmp, 'probe-graph.json');
    const r3 = await runCli(['probe', '--model', graphJson, '--dataset', 'synthetic', '--attack', 'fgsm', '--eps', '4/255', '--samples', '16', '--batch-size', '8', '--out', g, ...common]);
    expect(r3.code).toBe(0);
    expect((JSON.parse(fs.readFileSync(g, 'utf8')) as { layers: string[] }).layers).toEqual(['input', 'mm', 'logits']);
  });
});

describe('spec model entries with "file"', () => {
  const dir = path.join(tmp, 'spec');
  const specFile = path.join(dir, 'spec.json');
  const outDir = path.join(tmp, 'spec-out');
  const spec = {
    name: 'files',
    seed: 2,
    dataset: 'synthetic',
    data: { trainSamples: 16, testSamples: 16, attackSamples: 8, evalBatchSize: 8 },
    models: [
      { name: 'tf', file: 'm/model.json', mean: [0.5], std: [0.25] },
      { name: 'ox', file: 'm.onnx' },
    ],
    attacks: [
      { attack: 'fgsm', eps: ['4/255'] },
      { attack: 'square', eps: ['8/255'], params: { maxQueries: 10 }, models: ['tf'] },
      { attack: 'transfer', source: 'tf', craft: 'fgsm', models: ['ox'], eps: ['8/255'] },
    ],
  };

  beforeAll(() => {
    fs.mkdirSync(path.join(dir, 'm'), { recursive: true });
    for (const f of ['model.json', 'weights.bin']) fs.copyFileSync(path.join(layersDir, f), path.join(dir, 'm', f));
    fs.copyFileSync(onnxFile, path.join(dir, 'm.onnx'));
    fs.writeFileSync(specFile, JSON.stringify(spec));
  });

  test('runs without training, resumes without redoing work, reruns the jobs of a changed file; report renders it', async () => {
    const check = await runCli(['run', specFile, '--out', outDir, '--check', ...common]);
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/0 models:\n2 model files \(attacked as they are, not trained\):\n  tf: file:tf, .*m\/model.json\n  ox: file:ox, .*m.onnx\n4 attack jobs:/);
    expect(fs.existsSync(outDir)).toBe(false);
    const first = await runCli(['run', specFile, '--out', outDir, ...common]);
    expect(first.err).not.toMatch(/internal error/);
    expect(first.code).toBe(0);
    const r = results(path.join(outDir, 'results.json'));
    expect(r.models.map((m) => m.id).sort()).toEqual(['file:ox', 'file:tf']);
    expect(r.models.find((m) => m.id === 'file:tf')).toMatchObject({ name: 'tf', architecture: 'imported', modelFile: { format: 'tfjs-layers-model', file: path.join(dir, 'm', 'model.json') } });
    // fgsm on both, square on tf, transfer tf -> ox
    expect(r.runs.map((x) => `${x.attack}:${x.model}`).sort()).toEqual(['fgsm:file:ox', 'fgsm:file:tf', 'square:file:tf', 'transfer-fgsm:file:ox']);
    expect(fs.existsSync(path.join(outDir, 'checkpoints'))).toBe(false);
    const journal = readJournal(outDir).length;

    const again = await runCli(['run', specFile, '--out', outDir, ...common]);
    expect(again.code).toBe(0);
    expect(readJournal(outDir).length).toBe(journal);
    expect((again.err.match(/already done/g) ?? []).length).toBe(4);

    // a changed ONNX file: its record, its fgsm job and the transfer job onto it run again; the rest resumes
    const m = layersModel(2);
    fs.writeFileSync(path.join(dir, 'm.onnx'), onnxOf(m));
    m.dispose();
    const third = await runCli(['run', specFile, '--out', outDir, ...common]);
    expect(third.code).toBe(0);
    expect((third.err.match(/already done/g) ?? []).length).toBe(2);
    expect(readJournal(outDir).length).toBe(journal + 3);

    const rep = await runCli(['report', path.join(outDir, 'results.json'), ...common]);
    expect(rep.code).toBe(0);
    const html = fs.readFileSync(path.join(outDir, 'report.html'), 'utf8');
    expect(html).toContain('file:tf');
    expect(html).toContain('file:ox');
  });

  test('bad file entries: one line naming the field, exit 2, before any work', async () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'tf', file: 'm/model.json', epochs: 3 }, /^opulab: .*spec.models\[0\].epochs: unknown field/],
      [{ name: 'tf', file: 'm/model.json', architecture: 'vgg11' }, /^opulab: .*spec.models\[0\].architecture: a training setting beside "file": .*remove 'architecture'/],
      [{ name: 'tf', file: 'm/missing.json' }, /^opulab: .*spec.models\[0\].file: model file '.*missing.json' not found/],
      [{ name: 'tf', file: 'm/model.json', mean: [0.5] }, /^opulab: .*spec.models\[0\]: give both mean and std/],
      [{ name: 'tf', file: 'm/model.pt' }, /^opulab: .*unknown format '.pt'/],
    ];
    // a trained model beside a file entry of the same name: named by its place in the models list
    cases.push([[{ name: 'tf', file: 'm/model.json' }, { name: 'tf', architecture: 'vgg11' }], /^opulab: .*spec.models\[1\].name: duplicate model name 'tf'/]);
    for (const [entry, pattern] of cases) {
      const f = path.join(dir, 'bad.json');
      fs.writeFileSync(f, JSON.stringify({ ...spec, models: Array.isArray(entry) ? entry : [entry], attacks: [{ attack: 'fgsm', eps: ['4/255'] }] }));
      const out = path.join(tmp, 'bad-out');
      const r = await runCli(['run', f, '--out', out, ...common]);
      expect(r.code).toBe(2);
      const lines = errorLines(r.err);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});

describe('bad TF.js model files on the CLI', () => {
  test('missing file, missing shard, bad JSON, a straight-through gradient: one line, exit 2, nothing written', async () => {
    const noShard = path.join(tmp, 'noshard');
    fs.mkdirSync(noShard, { recursive: true });
    fs.copyFileSync(layersJson, path.join(noShard, 'model.json'));
    const badJson = path.join(tmp, 'badjson', 'model.json');
    fs.mkdirSync(path.dirname(badJson), { recursive: true });
    fs.writeFileSync(badJson, '{ not json');
    const out = path.join(tmp, 'bad-res', 'results.json');
    const attack = ['--dataset', 'synthetic', '--attack', 'fgsm', '--samples', '4', '--out', out, ...common];
    const cases: [string[], RegExp][] = [
      [['attack', '--model', path.join(tmp, 'nope', 'model.json'), ...attack], /^opulab: model file '.*nope\/model.json' not found: expected a TensorFlow.js model.json$/],
      [['attack', '--model', path.join(noShard, 'model.json'), ...attack], /^opulab: weight shard 'weights.bin' listed in '.*noshard\/model.json' not found/],
      [['attack', '--model', badJson, ...attack], /^opulab: bad TensorFlow.js model '.*badjson\/model.json': expected a model.json/],
      [['attack', '--model', layersJson, '--gradient', 'bpda-identity', ...attack], /^opulab: gradient mode 'bpda-identity' for TensorFlow.js model .*: expected natural/],
      [['probe', '--model', path.join(noShard, 'model.json'), '--dataset', 'synthetic', '--out', path.join(tmp, 'p.json'), ...common], /^opulab: weight shard 'weights.bin'/],
      [['probe', '--dataset', 'synthetic', '--out', path.join(tmp, 'p.json'), ...common], /^opulab: give --checkpoint DIR or --model FILE/],
      [['transfer', '--source', layersJson, '--targets', path.join(noShard, 'model.json'), ...attack], /^opulab: weight shard 'weights.bin'/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      const lines = errorLines(r.err);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'p.json'))).toBe(false);
  });
});
