/**
 * ONNX import (src/import): models built in the test, read into a Classifier; logits of ONNX Runtime against the
 * tfjs mapping, every input gradient against finite differences, straight-through gradients against the
 * gradient of the model with the step replaced by the identity, the one-line errors, memory and sessions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { loadOnnxClassifier, type OnnxClassifier } from '../src/import/onnx';
import { loadModelFile } from '../src/import';
import { openSessionCount } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import { UserError } from '../src/util/errors';
import { expectMemoryFlat } from './helpers/memory';
import { maxRelErr } from './helpers/numeric';
import { expectGradientMatchesFd } from './helpers/gradient-check';
import { residualModel, normalizedNhwcModel, stepModel, unsupportedModel, tempDir, writeModel } from './helpers/onnx-models';

let dir: string;
beforeAll(async () => {
  await initBackend('wasm', true);
  dir = tempDir('opulab-import-');
});

function images(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** The loss that is the true class's logit: linear in the logits, so a straight-through gradient equals the identity twin's. */
const trueLogit = (logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D =>
  tf.tidy(() => tf.sum(tf.mul(logits, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1])), 1) as tf.Tensor1D);

describe('reading the graph', () => {
  test('layout, classes and output kind are read from the graph and recorded', () => {
    const a = loadOnnxClassifier(writeModel(dir, 'res.onnx', residualModel()), { announce: false });
    const b = loadOnnxClassifier(writeModel(dir, 'nhwc.onnx', normalizedNhwcModel()), { announce: false });
    const p = loadOnnxClassifier(writeModel(dir, 'probs.onnx', residualModel({ softmax: true })), { announce: false });
    try {
      expect(a.info).toMatchObject({ layout: 'nchw', classes: 5, outputKind: 'logits', inputName: 'image', inputShape: [8, 8, 3], batch: 'dynamic', format: 'onnx' });
      expect(a.info.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(b.info).toMatchObject({ layout: 'nhwc', classes: 4, outputKind: 'logits' });
      expect(p.info.outputKind).toBe('probabilities');
      expect(p.info.outputSource).toMatch(/Softmax/);
      expect(a.numClasses).toBe(5);
      expect(a.inputShape).toEqual([8, 8, 3]);
    } finally {
      [a, b, p].forEach((c) => c.dispose());
    }
  });

  test('an unsupported operator is one line naming the op type and the node, before any session opens', () => {
    const file = writeModel(dir, 'lrn.onnx', unsupportedModel());
    const before = openSessionCount();
    let err: unknown;
    try {
      loadOnnxClassifier(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/unsupported ONNX operator 'LRN' in node 'n_lrn'/);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(openSessionCount()).toBe(before);
  });

  test('bad files and contradicting options are one-line UserErrors', async () => {
    const res = writeModel(dir, 'res2.onnx', residualModel());
    await expect(loadModelFile(writeModel(dir, 'model.json', new TextEncoder().encode('{}')))).rejects.toThrow(/bad TensorFlow.js model .*expected a model.json with a modelTopology field/);
    await expect(loadModelFile(writeModel(dir, 'junk.onnx', new Uint8Array([1, 2, 3, 4, 5])))).rejects.toThrow(UserError);
    await expect(loadModelFile(res.replace('.onnx', '.pt'))).rejects.toThrow(/unknown format '.pt'/);
    expect(() => loadOnnxClassifier(res, { classes: 10 })).toThrow(/--classes 10 contradicts .* 5 classes/);
    expect(() => loadOnnxClassifier(res, { mean: [0.5, 0.5] , std: [0.2, 0.2, 0.2] })).toThrow(/bad --mean/);
    expect(() => loadOnnxClassifier(res, { gradient: 'bpda-random' })).toThrow(/expected one of natural, bpda-identity/);
    expect(openSessionCount()).toBe(0);
  });
});

describe('queries and gradients', () => {
  const labels5 = (): tf.Tensor1D => tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');

  /** The file on ONNX Runtime and on the tfjs mapping: logits agree, the ORT gradient matches finite differences. */
  function expectEnginesAgree(file: string, x: tf.Tensor4D, y: tf.Tensor1D, also: (ort: OnnxClassifier, tfj: OnnxClassifier) => void = () => undefined): void {
    const ort = loadOnnxClassifier(file, { announce: false });
    const tfj = loadOnnxClassifier(file, { engine: 'tfjs' });
    try {
      const a = ort.logits(x);
      const b = tfj.logits(x);
      expect(maxRelErr(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
      tf.dispose([a, b]);
      also(ort, tfj);
      expectGradientMatchesFd(ort, x, y);
    } finally {
      tf.dispose([x, y]);
      ort.dispose();
      tfj.dispose();
    }
  }

  test('residual block + global average pooling: ONNX Runtime and the tfjs mapping agree; gradient = finite differences', () => {
    expectEnginesAgree(writeModel(dir, 'res3.onnx', residualModel()), images(6, 1), labels5(), (ort, tfj) => {
      expect(ort.info.queryEngine).toBe('onnxruntime');
      expect(ort.runs.onnxruntime).toBe(1);
      expect(tfj.runs.tfjs).toBe(1);
    });
  });

  test('normalization inside, NHWC input, PyTorch-style flatten: same agreement and gradient', () => {
    expectEnginesAgree(writeModel(dir, 'nhwc2.onnx', normalizedNhwcModel()), images(4, 2), tf.tensor1d([0, 1, 2, 3], 'int32'));
  });

  test('--mean/--std outside the graph: the same as the normalization inside, gradients in pixel units', () => {
    // The residual model fed (x - m) / s equals a model that normalizes inside; check against FD in pixel space.
    const file = writeModel(dir, 'res4.onnx', residualModel());
    const c = loadOnnxClassifier(file, { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], announce: false });
    const plain = loadOnnxClassifier(file, { announce: false });
    const x = images(6, 3);
    const y = labels5();
    try {
      expect(c.normalizationStd).toEqual([0.2, 0.25, 0.3]);
      const a = c.logits(x);
      const xn = tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d([0.5, 0.4, 0.3])), tf.tensor1d([0.2, 0.25, 0.3])) as tf.Tensor4D);
      const b = plain.logits(xn);
      expect(maxRelErr(b.dataSync(), a.dataSync())).toBeLessThan(1e-5);
      tf.dispose([a, b, xn]);
      expectGradientMatchesFd(c, x, y, 2e-3);
    } finally {
      tf.dispose([x, y]);
      c.dispose();
      plain.dispose();
    }
  });

  test('a fixed batch size in the graph: run in chunks, same logits and gradients as the dynamic graph', () => {
    const fixed = loadOnnxClassifier(writeModel(dir, 'res-b2.onnx', residualModel({ batch: 2 })), { announce: false });
    const dyn = loadOnnxClassifier(writeModel(dir, 'res5.onnx', residualModel()), { announce: false });
    const x = images(5, 4);
    const y = tf.tensor1d([0, 1, 2, 3, 4], 'int32');
    try {
      expect(fixed.info.batch).toBe(2);
      const a = fixed.logits(x);
      const b = dyn.logits(x);
      expect(maxRelErr(b.dataSync(), a.dataSync())).toBeLessThan(1e-6);
      const ga = fixed.lossAndGradient(x, y, lossFor('ce', false));
      const gb = dyn.lossAndGradient(x, y, lossFor('ce', false));
      expect(maxRelErr(gb.grad.dataSync(), ga.grad.dataSync())).toBeLessThan(1e-5);
      expect(maxRelErr(gb.loss.dataSync(), ga.loss.dataSync())).toBeLessThan(1e-5);
      tf.dispose([a, b, ga.grad, ga.loss, gb.grad, gb.loss]);
    } finally {
      tf.dispose([x, y]);
      fixed.dispose();
      dyn.dispose();
    }
  });

  test.each(['sign', 'quantize', 'greater'] as const)(
    'a %s step: zero true gradient under natural (= finite differences), the identity twin\'s under bpda-identity',
    (step) => {
      // uint8 quantization of values in (0, 1) (a Sigmoid before it): no saturation, only the rounding
      const squash = step === 'quantize' ? 'Sigmoid' : 'Tanh';
      const file = writeModel(dir, `step-${step}.onnx`, stepModel(step, { squash }));
      const twinFile = writeModel(dir, `step-identity-${squash}.onnx`, stepModel('identity', { squash }));
      const natural = loadOnnxClassifier(file, { announce: false });
      const bpda = loadOnnxClassifier(file, { gradient: 'bpda-identity', announce: false });
      const twin = loadOnnxClassifier(twinFile, { announce: false });
      const x = images(4, 5);
      const y = tf.tensor1d([0, 1, 2, 0], 'int32');
      const loss = lossFor('ce', false);
      try {
        expect(bpda.gradientMode).toBe('bpda-identity');
        const n = natural.lossAndGradient(x, y, loss);
        const b = bpda.lossAndGradient(x, y, trueLogit);
        const t = twin.lossAndGradient(x, y, trueLogit);
        const nGrad = n.grad.dataSync();
        if (step === 'greater') {
          // the mask's gradient is zero, the gated path's is not: natural = FD (the mask is constant near x)
          expectGradientMatchesFd(natural, x, y, 1e-3);
          // straight-through: the mask passes a gradient (d(mask * t)/dt = mask + t), so bpda-identity differs from natural
          expect(maxRelErr(n.grad.dataSync(), b.grad.dataSync())).toBeGreaterThan(1e-2);
        } else {
          expect(Array.from(nGrad).every((v) => v === 0)).toBe(true);
          expectGradientMatchesFd(natural, x, y, 1e-5);
          expect(maxRelErr(t.grad.dataSync(), b.grad.dataSync())).toBeLessThan(1e-5);
        }
        expectGradientMatchesFd(twin, x, y);
        tf.dispose([n.grad, n.loss, b.grad, b.loss, t.grad, t.loss]);
      } finally {
        tf.dispose([x, y]);
        [natural, bpda, twin].forEach((c) => c.dispose());
      }
    },
  );

  test('tensor count flat over repeated queries and gradient steps; the session released on dispose', () => {
    const before = openSessionCount();
    const c = loadOnnxClassifier(writeModel(dir, 'res6.onnx', residualModel()), { announce: false });
    expect(openSessionCount()).toBe(before + 1);
    const x = images(3, 6);
    const y = tf.tensor1d([0, 1, 2], 'int32');
    try {
      expectMemoryFlat(() => {
        const r = c.lossAndGradient(x, y, lossFor('ce', false));
        const l = c.logits(x);
        tf.dispose([r.grad, r.loss, l]);
      }, 5);
    } finally {
      tf.dispose([x, y]);
      c.dispose();
    }
    expect(openSessionCount()).toBe(before);
    expect(c.openSessions).toBe(0);
  });
});
