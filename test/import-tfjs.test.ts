/**
 * TensorFlow.js models as Classifiers: a LayersModel built here, saved with opulab's file IOHandler and loaded
 * back; a handmade GraphModel (model.json + one shard written here); normalization and channels-first inputs;
 * output-kind detection; input gradients against central finite differences; flat tensor counts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/backend';
import { fromTfjsModel, loadTfjsClassifier, TfjsClassifier } from '../src/import/tfjs';
import { tfjsFileHandler } from '../src/import/tfjs-io';
import { crossEntropyLoss } from '../attacks/losses';
import { makeRng } from '../src/util/rng';
import { UserError } from '../src/util/errors';
import { expectMemoryFlat } from './helpers/memory';
import { maxRelErr } from './helpers/numeric';

let tmp: string;
beforeAll(async () => {
  await initBackend('cpu', true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-tfjs-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function seededImages(n: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  const rng = makeRng(seed, 'tfjs-test-images');
  return tf.tensor4d(Float32Array.from({ length: n * h * w * c }, () => rng.uniform()), [n, h, w, c]);
}

/** A small conv net on 8x8x3 with smooth activations (finite differences need no kinks), ending in logits. */
function smallCnn(final: 'linear' | 'softmax' = 'linear'): tfl.Sequential {
  const init = (seed: number) => tfl.initializers.glorotNormal({ seed });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', kernelInitializer: init(1), biasInitializer: 'zeros' }));
  m.add(tfl.layers.averagePooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 5, activation: final, kernelInitializer: init(2) }));
  return m;
}

/** Central finite differences of sum(CE) along random directions against <grad, d>. */
async function checkGradient(c: TfjsClassifier, x: tf.Tensor4D, labels: Int32Array): Promise<void> {
  const y = tf.tensor1d(labels, 'int32');
  const { loss, grad } = c.lossAndGradient(x, y, crossEntropyLoss);
  const lossAt = (xx: tf.Tensor4D): number => tf.tidy(() => tf.sum(crossEntropyLoss(c.logits(xx), y)).dataSync()[0]);
  const rng = makeRng(7, 'fd-directions');
  const fd: number[] = [];
  const analytic: number[] = [];
  const h = 1e-2;
  for (let k = 0; k < 4; k++) {
    const d = tf.tensor4d(Float32Array.from({ length: x.size }, () => rng.range(-1, 1)), x.shape);
    const plus = tf.add(x, tf.mul(d, h)) as tf.Tensor4D;
    const minus = tf.sub(x, tf.mul(d, h)) as tf.Tensor4D;
    fd.push((lossAt(plus) - lossAt(minus)) / (2 * h));
    analytic.push(tf.sum(tf.mul(grad, d)).dataSync()[0]);
    tf.dispose([d, plus, minus]);
  }
  expect(maxRelErr(fd, analytic)).toBeLessThan(2e-3);
  expect(loss.shape).toEqual([x.shape[0]]);
  expect(Array.from(await loss.data()).every(Number.isFinite)).toBe(true);
  tf.dispose([y, loss, grad]);
}

describe('LayersModel', () => {
  test('saved with the file IOHandler, loaded back: same logits, recorded shape, class count and output kind', async () => {
    const model = smallCnn();
    const file = path.join(tmp, 'cnn', 'model.json');
    await model.save(tfjsFileHandler(file));
    expect(fs.existsSync(path.join(tmp, 'cnn', 'weights.bin'))).toBe(true);
    const loaded = await loadTfjsClassifier(file);
    const inMemory = fromTfjsModel(model);
    expect(loaded.id).toBe('cnn');
    expect(loaded.inputShape).toEqual([8, 8, 3]);
    expect(loaded.numClasses).toBe(5);
    expect(loaded.layout).toBe('nhwc');
    expect(loaded.output).toBe('logits');
    expect(loaded.gradientMode).toBe('natural');
    const x = seededImages(6, 8, 8, 3, 1);
    const a = loaded.logits(x);
    const b = inMemory.logits(x);
    const direct = model.predict(x) as tf.Tensor;
    expect(maxRelErr(await direct.data(), await a.data())).toBeLessThan(1e-6);
    expect(maxRelErr(await b.data(), await a.data())).toBeLessThan(1e-6);
    // not a constant model: the first two images get different scores
    const rows = (await a.array()) as number[][];
    expect(maxRelErr(rows[0], rows[1])).toBeGreaterThan(1e-3);
    tf.dispose([x, a, b, direct]);
    loaded.dispose();
    model.dispose();
  });

  test('input gradient matches finite differences (with and without a given normalization), tensors flat', async () => {
    const model = smallCnn();
    const x = seededImages(3, 8, 8, 3, 2);
    const labels = Int32Array.from([0, 3, 4]);
    await checkGradient(fromTfjsModel(model), x, labels);
    const norm = fromTfjsModel(model, { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] });
    expect(norm.normalizationStd).toEqual([0.2, 0.25, 0.3]);
    await checkGradient(norm, x, labels);
    // the normalization is applied before the model: (x - mean) / std
    const manual = tf.tidy(() => model.predict(tf.div(tf.sub(x, tf.tensor1d([0.5, 0.4, 0.3])), tf.tensor1d([0.2, 0.25, 0.3]))) as tf.Tensor);
    const got = norm.logits(x);
    expect(maxRelErr(await manual.data(), await got.data())).toBeLessThan(1e-6);
    tf.dispose([manual, got]);
    const y = tf.tensor1d(labels, 'int32');
    expectMemoryFlat(() => {
      const r = norm.lossAndGradient(x, y, crossEntropyLoss);
      tf.dispose([r.loss, r.grad]);
      tf.dispose(norm.logits(x));
    }, 3);
    tf.dispose([x, y]);
    model.dispose();
  });

  test('a final softmax is detected and recorded as probabilities; output can be overridden', async () => {
    const model = smallCnn('softmax');
    const c = fromTfjsModel(model);
    expect(c.output).toBe('probabilities');
    expect(c.outputEvidence).toMatch(/softmax/);
    const p = c.logits(seededImages(2, 8, 8, 3, 3));
    const sums = await tf.sum(p, 1).data();
    expect(Math.abs(sums[0] - 1)).toBeLessThan(1e-5);
    p.dispose();
    expect(fromTfjsModel(model, { output: 'logits' }).output).toBe('logits');
    model.dispose();
  });

  test('a channels-first input is detected and fed NCHW', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.flatten({ inputShape: [3, 4, 4] }));
    m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }));
    const c = fromTfjsModel(m);
    expect(c.layout).toBe('nchw');
    expect(c.inputShape).toEqual([4, 4, 3]);
    const x = seededImages(2, 4, 4, 3, 5);
    const want = tf.tidy(() => m.predict(tf.transpose(x, [0, 3, 1, 2])) as tf.Tensor);
    const got = c.logits(x);
    expect(maxRelErr(await want.data(), await got.data())).toBeLessThan(1e-6);
    await checkGradient(c, x, Int32Array.from([1, 2]));
    tf.dispose([x, want, got]);
    m.dispose();
  });

  test('bad options and inputs are one-line UserErrors', async () => {
    const model = smallCnn();
    expect(() => fromTfjsModel(model, { classes: 7 })).toThrow(/classes 7 given, but the model outputs 5 scores/);
    expect(() => fromTfjsModel(model, { mean: [0.5, 0.5] })).toThrow(/bad mean \[0.5, 0.5\]: expected 3 finite numbers/);
    expect(() => fromTfjsModel(model, { std: [0, 1, 1] })).toThrow(UserError);
    const c = fromTfjsModel(model);
    const wrong = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => c.logits(wrong)).toThrow(/expected \[batch, 8, 8, 3\]/);
    wrong.dispose();
    await expect(loadTfjsClassifier(path.join(tmp, 'missing', 'model.json'))).rejects.toThrow(/cannot read TensorFlow.js model .*ENOENT/);
    const dir = path.join(tmp, 'truncated');
    await model.save(tfjsFileHandler(path.join(dir, 'model.json')));
    const bin = path.join(dir, 'weights.bin');
    fs.writeFileSync(bin, fs.readFileSync(bin).subarray(0, 100));
    await expect(loadTfjsClassifier(path.join(dir, 'model.json'))).rejects.toThrow(/the manifest describes \d+ bytes, the shards hold 100/);
    model.dispose();
  });
});

/**
 * A GraphModel written by hand in the converter's format: x [-1,4,4,3] -> Reshape [-1,48] -> MatMul W -> BiasAdd b
 * (-> Softmax) -> Identity, with W, b and the shape constant in one weight shard.
 */
function writeGraphModel(dir: string, softmax: boolean, w: Float32Array, b: Float32Array): string {
  const dim = (sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });
  const constNode = (name: string, dtype: string, shape: number[]) => ({
    name,
    op: 'Const',
    attr: { value: { tensor: { dtype, tensorShape: dim(shape) } }, dtype: { type: dtype } },
  });
  const node = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dim([-1, 4, 4, 3]) } } },
    constNode('shape', 'DT_INT32', [2]),
    constNode('W', 'DT_FLOAT', [48, 3]),
    constNode('b', 'DT_FLOAT', [3]),
    { name: 'flat', op: 'Reshape', input: ['x', 'shape'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'mm', op: 'MatMul', input: ['flat', 'W'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } } },
    { name: 'scores', op: 'BiasAdd', input: ['mm', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
    ...(softmax ? [{ name: 'probs', op: 'Softmax', input: ['scores'], attr: { T: { type: 'DT_FLOAT' } } }] : []),
    { name: 'out', op: 'Identity', input: [softmax ? 'probs' : 'scores'], attr: { T: { type: 'DT_FLOAT' } } },
  ];
  const shapeBytes = new Uint8Array(Int32Array.from([-1, 48]).buffer);
  const bytes = Buffer.concat([Buffer.from(shapeBytes), Buffer.from(w.buffer), Buffer.from(b.buffer)]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), bytes);
  const json = {
    format: 'graph-model',
    generatedBy: 'handmade',
    convertedBy: 'handmade',
    modelTopology: { node, library: {}, versions: { producer: 1 } },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'shape', shape: [2], dtype: 'int32' },
          { name: 'W', shape: [48, 3], dtype: 'float32' },
          { name: 'b', shape: [3], dtype: 'float32' },
        ],
      },
    ],
  };
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(json));
  expect(fs.statSync(file).size + bytes.length).toBeLessThan(4096);
  return file;
}

describe('GraphModel', () => {
  const rng = makeRng(11, 'graph-weights');
  const w = Float32Array.from({ length: 48 * 3 }, () => rng.range(-0.5, 0.5));
  const b = Float32Array.from([0.1, -0.2, 0.05]);

  test('a handmade graph model loads: logits equal x W + b, gradient matches finite differences, tensors flat', async () => {
    const c = await loadTfjsClassifier(writeGraphModel(path.join(tmp, 'graph'), false, w, b));
    expect(c.model.constructor.name).toBe('GraphModel');
    expect(c.inputShape).toEqual([4, 4, 3]);
    expect(c.numClasses).toBe(3);
    expect(c.output).toBe('logits');
    expect(c.outputEvidence).toMatch(/BiasAdd node scores/);
    const x = seededImages(4, 4, 4, 3, 6);
    const want = tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [4, 48]), tf.tensor2d(w, [48, 3])), tf.tensor1d(b)));
    const got = c.logits(x);
    expect(maxRelErr(await want.data(), await got.data())).toBeLessThan(1e-6);
    await checkGradient(c, x, Int32Array.from([0, 1, 2, 1]));
    const y = tf.tensor1d(Int32Array.from([0, 1, 2, 1]), 'int32');
    expectMemoryFlat(() => {
      const r = c.lossAndGradient(x, y, crossEntropyLoss);
      tf.dispose([r.loss, r.grad]);
    }, 3);
    tf.dispose([x, want, got, y]);
    c.dispose();
  });

  test('a graph ending in Softmax is detected as probabilities', async () => {
    const c = await loadTfjsClassifier(writeGraphModel(path.join(tmp, 'graph-softmax'), true, w, b), { id: 'g' });
    expect(c.id).toBe('g');
    expect(c.output).toBe('probabilities');
    expect(c.outputEvidence).toMatch(/Softmax node probs/);
    c.dispose();
  });
});
