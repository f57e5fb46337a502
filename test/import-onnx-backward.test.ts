/**
 * The ONNX Runtime backward graph of imported models (src/import/onnx-backward.ts): for each operator family a
 * small model built here, the gradient of ONNX Runtime's graph against finite differences and against the tfjs
 * mapping (1e-3 relative), for every attack loss; the fixtures (residual Add block with global average
 * pooling, normalization inside, a Sign step under both gradient modes, an unsupported operator); sessions cached
 * per loss and batch size and released on dispose.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { loadOnnxClassifier, OnnxClassifier } from '../src/import/onnx';
import { openSessionCount } from '../src/engine/session';
import { lossFor } from '../attacks/losses';
import type { LossFn } from '../src/types';
import { UserError } from '../src/util/errors';
import { expectMemoryFlat } from './helpers/memory';
import { relErr } from './helpers/numeric';
import { expectGradientMatchesFd } from './helpers/gradient-check';
import { OP_FAMILIES, fallbackModel, opFamilyModel, residualModel, normalizedNhwcModel, stepModel, unsupportedModel, tempDir, writeModel } from './helpers/onnx-models';

let dir: string;
beforeAll(async () => {
  await initBackend('wasm', true);
  dir = tempDir('opulab-backward-');
});

function images(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** The two engines of one file: ONNX Runtime's backward graph, and the tfjs mapping. */
function pair(file: string, opts: { gradient?: string; mean?: number[]; std?: number[] } = {}): { ort: OnnxClassifier; tfj: OnnxClassifier } {
  const ort = loadOnnxClassifier(file, { ...opts, announce: false });
  const tfj = loadOnnxClassifier(file, { ...opts, engine: 'tfjs' });
  expect(ort.info.gradientEngine).toBe('onnxruntime');
  expect(tfj.info.gradientEngine).toBe('tfjs');
  return { ort, tfj };
}

/** Loss values and gradients of both engines agree (1e-3 relative), and the ORT one really ran on ONNX Runtime. */
function expectEnginesAgree(ort: OnnxClassifier, tfj: OnnxClassifier, x: tf.Tensor4D, y: tf.Tensor1D, loss: LossFn): void {
  const runs = ort.runs.onnxruntime;
  const a = ort.lossAndGradient(x, y, loss);
  const b = tfj.lossAndGradient(x, y, loss);
  expect(ort.runs.onnxruntime).toBe(runs + 1);
  const ga = a.grad.dataSync();
  expect(Array.from(ga).some((v) => v !== 0)).toBe(true);
  expect(relErr(ga, b.grad.dataSync())).toBeLessThan(1e-3);
  expect(relErr(a.loss.dataSync(), b.loss.dataSync())).toBeLessThan(1e-3);
  tf.dispose([a.grad, a.loss, b.grad, b.loss]);
}

describe('each operator family: ONNX Runtime gradient = finite differences = the tfjs mapping', () => {
  test.each(OP_FAMILIES)('%s', (family) => {
    const { ort, tfj } = pair(writeModel(dir, `family-${family}.onnx`, opFamilyModel(family)));
    const x = images(4, 21);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const targets = tf.tensor1d([4, 3, 0, 1], 'int32');
    try {
      for (const loss of [lossFor('ce', false), lossFor('cw', false), lossFor('dlr', false), lossFor('ce', true), lossFor('cw', true)]) expectEnginesAgree(ort, tfj, x, y, loss);
      expectEnginesAgree(ort, tfj, x, targets, lossFor('dlr', true, y));
      expectGradientMatchesFd(ort, x, y);
      expectGradientMatchesFd(ort, x, y, 1e-2, lossFor('cw', false));
    } finally {
      tf.dispose([x, y, targets]);
      ort.dispose();
      tfj.dispose();
    }
  });
});

describe('the fixtures', () => {
  test('residual Add block with global average pooling, and a model normalizing inside (NHWC input)', () => {
    for (const [name, bytes, classes] of [['res.onnx', residualModel(), 5], ['nhwc.onnx', normalizedNhwcModel(), 4]] as const) {
      const { ort, tfj } = pair(writeModel(dir, name, bytes));
      const x = images(6, 22);
      const y = tf.tensor1d([0, 1, 2, 3, 0, 1].map((v) => v % classes), 'int32');
      try {
        expectEnginesAgree(ort, tfj, x, y, lossFor('ce', false));
        expectEnginesAgree(ort, tfj, x, y, lossFor('dlr', false));
        expectGradientMatchesFd(ort, x, y);
      } finally {
        tf.dispose([x, y]);
        ort.dispose();
        tfj.dispose();
      }
    }
  });

  test('--mean/--std outside the graph: normalization in the backward graph, gradients in pixel units', () => {
    const { ort, tfj } = pair(writeModel(dir, 'res-norm.onnx', residualModel()), { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] });
    const x = images(6, 23);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
    try {
      expectEnginesAgree(ort, tfj, x, y, lossFor('ce', false));
      expectGradientMatchesFd(ort, x, y, 2e-3);
    } finally {
      tf.dispose([x, y]);
      ort.dispose();
      tfj.dispose();
    }
  });

  test.each(['sign', 'quantize', 'greater'] as const)('a %s step: natural gradient and bpda-identity straight-through both as the tfjs mapping', (step) => {
    const squash = step === 'quantize' ? 'Sigmoid' : 'Tanh';
    const file = writeModel(dir, `bw-step-${step}.onnx`, stepModel(step, { squash }));
    const natural = pair(file);
    const bpda = pair(file, { gradient: 'bpda-identity' });
    const x = images(4, 24);
    const y = tf.tensor1d([0, 1, 2, 0], 'int32');
    const loss = lossFor('ce', false);
    try {
      const n = natural.ort.lossAndGradient(x, y, loss);
      if (step === 'greater') {
        expectEnginesAgree(natural.ort, natural.tfj, x, y, loss);
        expectGradientMatchesFd(natural.ort, x, y, 1e-3);
      } else {
        // the step's true gradient is zero almost everywhere: nothing reaches the input
        expect(Array.from(n.grad.dataSync()).every((v) => v === 0)).toBe(true);
        expectGradientMatchesFd(natural.ort, x, y, 1e-5);
      }
      expectEnginesAgree(bpda.ort, bpda.tfj, x, y, loss);
      const b = bpda.ort.lossAndGradient(x, y, loss);
      expect(relErr(b.grad.dataSync(), n.grad.dataSync())).toBeGreaterThan(1e-2);
      tf.dispose([n.grad, n.loss, b.grad, b.loss]);
    } finally {
      tf.dispose([x, y]);
      [natural.ort, natural.tfj, bpda.ort, bpda.tfj].forEach((c) => c.dispose());
    }
  });

  test('an unsupported operator: the same one-line error naming op and node, nothing opened', () => {
    const before = openSessionCount();
    let err: unknown;
    try {
      loadOnnxClassifier(writeModel(dir, 'bw-lrn.onnx', unsupportedModel()), { announce: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^unsupported ONNX operator 'LRN' in node 'n_lrn'[^\n]*$/);
    expect(openSessionCount()).toBe(before);
  });
});

describe('what the backward graph has no rule for: the tfjs mapping, said and recorded', () => {
  test.each([
    ['opset-12', 'at load', /opset 12/],
    ['batch-concat', 'at the first gradient', /Concat over the batch axis in node 'n_twice'/],
  ] as const)('%s: found %s', (kind, when, reason) => {
    const c = loadOnnxClassifier(writeModel(dir, `fallback-${kind}.onnx`, fallbackModel(kind)), { announce: false });
    const x = images(3, 26);
    const y = tf.tensor1d([0, 1, 2], 'int32');
    try {
      expect(c.info.gradientEngine).toBe(when === 'at load' ? 'tfjs' : 'onnxruntime');
      const r = c.lossAndGradient(x, y, lossFor('ce', false));
      tf.dispose([r.grad, r.loss]);
      expect(c.info.gradientEngine).toBe('tfjs');
      expect(c.info.gradientEngineReason).toMatch(reason);
      expect(c.runs.tfjs).toBe(1);
      expect(c.openSessions).toBe(1);
      expectGradientMatchesFd(c, x, y);
    } finally {
      tf.dispose([x, y]);
      c.dispose();
    }
  });
});

describe('sessions', () => {
  test('cached per loss and batch size (one dynamic graph for other sizes), memory flat, all released on dispose', () => {
    const before = openSessionCount();
    const c = loadOnnxClassifier(writeModel(dir, 'bw-cache.onnx', residualModel()), { announce: false });
    const x = images(4, 25);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const x3 = tf.slice(x, 0, 3);
    const y3 = tf.slice(y, 0, 3);
    const x2 = tf.slice(x, 0, 2);
    const y2 = tf.slice(y, 0, 2);
    try {
      expect(c.openSessions).toBe(1);
      const step = (xx: tf.Tensor4D, yy: tf.Tensor1D, loss: LossFn): void => {
        const r = c.lossAndGradient(xx, yy, loss);
        tf.dispose([r.grad, r.loss]);
      };
      step(x, y, lossFor('ce', false));
      expect(c.openSessions).toBe(2);
      expectMemoryFlat(() => step(x, y, lossFor('ce', false)), 3);
      expect(c.openSessions).toBe(2);
      step(x3, y3, lossFor('ce', false)); // another size: the dynamic graph
      step(x2, y2, lossFor('ce', false)); // and again the same dynamic graph
      expect(c.openSessions).toBe(3);
      step(x, y, lossFor('cw', false)); // another loss
      expect(c.openSessions).toBe(4);
      // the dynamic graph gives the fixed graph's numbers
      const full = c.lossAndGradient(x, y, lossFor('ce', false));
      const part = c.lossAndGradient(x3, y3, lossFor('ce', false));
      expect(relErr(part.grad.dataSync(), full.grad.dataSync().subarray(0, 3 * 8 * 8 * 3))).toBeLessThan(1e-5);
      tf.dispose([full.grad, full.loss, part.grad, part.loss]);
      expect(openSessionCount()).toBe(before + 4);
    } finally {
      tf.dispose([x, y, x3, y3, x2, y2]);
      c.dispose();
    }
    expect(openSessionCount()).toBe(before);
    expect(c.openSessions).toBe(0);
  });
});
