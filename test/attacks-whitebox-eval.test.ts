/** EOT wrapper, evaluateAttack / per-sample JSONL, presets. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { EotClassifier, eotRecordOf, stochasticPredict, withEot } from '../attacks/eot';
import { evaluateAttack, writePerSample } from '../attacks/evaluate';
import { ATTACK_PRESETS, expandPreset, getPreset } from '../attacks/presets';
import { crossEntropyLoss } from '../attacks/losses';
import { Fgsm, Pgd, WHITEBOX_ATTACKS } from '../attacks/whitebox';
import { SquareAttack } from '../attacks/blackbox/square';
import type { Classifier, LossAndGradient, LossFn } from '../src/types';
import { UserError } from '../src/util/errors';
import { LinearClassifier, NoisyLinearClassifier, randomImages } from './helpers/toy-classifiers';

beforeAll(async () => {
  await initBackend('cpu', true);
});

/** A stochastic "model" whose s-th gradient call returns grad = s, loss = 2 s (s = 0, 1, 2, ...). */
class CountingClassifier implements Classifier {
  readonly id = 'counting';
  readonly numClasses = 3;
  readonly inputShape = [1, 1, 2] as const;
  readonly stochastic = true;
  readonly normalizationStd = [1];
  calls = 0;
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.zeros([x.shape[0], 3]);
  }
  lossAndGradient(x: tf.Tensor4D, _labels: tf.Tensor1D, _loss: LossFn): LossAndGradient {
    const s = this.calls++;
    return { loss: tf.fill([x.shape[0]], 2 * s) as tf.Tensor1D, grad: tf.fill(x.shape, s) as tf.Tensor4D };
  }
}

/** A stochastic model whose forward passes cycle through fixed logits. */
class ScriptedClassifier implements Classifier {
  readonly id = 'scripted';
  readonly numClasses = 3;
  readonly inputShape = [1, 1, 1] as const;
  readonly stochastic = true;
  readonly normalizationStd = [1];
  private pass = 0;
  constructor(private readonly script: number[][]) {}
  logits(x: tf.Tensor4D): tf.Tensor2D {
    const row = this.script[this.pass++ % this.script.length];
    return tf.tile(tf.tensor2d([row]), [x.shape[0], 1]);
  }
}

describe('EOT', () => {
  test('k samples of a known stochastic gradient average to their mean', () => {
    const inner = new CountingClassifier();
    const eot = withEot(inner, { samples: 4 });
    const x = tf.zeros([2, 1, 1, 2]) as tf.Tensor4D;
    const labels = tf.tensor1d([0, 1], 'int32');
    const r = eot.lossAndGradient!(x, labels, crossEntropyLoss);
    expect(Array.from(r.grad.dataSync())).toEqual([1.5, 1.5, 1.5, 1.5]); // (0+1+2+3)/4
    expect(Array.from(r.loss.dataSync())).toEqual([3, 3]);
    expect(inner.calls).toBe(4);
    expect(eot.samplesDrawn).toBe(4);
    expect(eot.eot).toEqual({ samples: 4, evalPasses: 10, vote: 'majority' });
    expect(eotRecordOf(eot)).toBe(eot.eot);
    expect(eotRecordOf(inner)).toBeUndefined();
    tf.dispose([x, labels, r.loss, r.grad]);
  });

  test('equals the mean of k independent gradient draws of a noisy linear model; default k = 20', () => {
    const spec = { inputShape: [2, 2, 1] as [number, number, number], numClasses: 4, seed: 5, noiseStd: 0.3, noiseSeed: 9 };
    const a = new NoisyLinearClassifier(spec);
    const b = new NoisyLinearClassifier(spec);
    const eot = new EotClassifier(a);
    expect(eot.eot.samples).toBe(20);
    const x = randomImages(3, [2, 2, 1], 1);
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const r = eot.lossAndGradient!(x, labels, crossEntropyLoss);
    const draws = Array.from({ length: 20 }, () => b.lossAndGradient(x, labels, crossEntropyLoss));
    const meanGrad = tf.tidy(() => tf.div(tf.addN(draws.map((d) => d.grad)), 20));
    const meanLoss = tf.tidy(() => tf.div(tf.addN(draws.map((d) => d.loss)), 20));
    const got = r.grad.dataSync();
    meanGrad.dataSync().forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    const gotLoss = r.loss.dataSync();
    meanLoss.dataSync().forEach((v, i) => expect(gotLoss[i]).toBeCloseTo(v, 5));
    // Single draws differ from each other: the model really is stochastic.
    expect(Array.from(draws[0].grad.dataSync())).not.toEqual(Array.from(draws[1].grad.dataSync()));
    tf.dispose([x, labels, r.loss, r.grad, meanGrad, meanLoss, ...draws.flatMap((d) => [d.loss, d.grad])]);
    a.dispose();
    b.dispose();
  });

  test('deterministic models pass through with one sample; tensor count flat', () => {
    const m = new LinearClassifier({ inputShape: [2, 2, 1], numClasses: 3, seed: 1 });
    const eot = withEot(m, { samples: 7 });
    expect(eot.eot.samples).toBe(1);
    const x = randomImages(2, [2, 2, 1], 2);
    const labels = tf.tensor1d([0, 1], 'int32');
    const noisy = withEot(new NoisyLinearClassifier({ inputShape: [2, 2, 1], numClasses: 3, seed: 1, noiseStd: 0.1, noiseSeed: 1 }), { samples: 3 });
    tf.dispose(Object.values(noisy.lossAndGradient!(x, labels, crossEntropyLoss)));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose(Object.values(eot.lossAndGradient!(x, labels, crossEntropyLoss)));
      tf.dispose(Object.values(noisy.lossAndGradient!(x, labels, crossEntropyLoss)));
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(m.gradientCalls).toBe(3);
    tf.dispose([x, labels]);
    m.dispose();
  });

  test('bad settings are UserErrors', () => {
    const m = new CountingClassifier();
    expect(() => withEot(m, { samples: 0 })).toThrow(/samples '0'/);
    expect(() => withEot(m, { evalPasses: 1.5 })).toThrow(/evalPasses '1.5'/);
  });

  test('stochasticPredict: majority vote vs mean probabilities', async () => {
    const script = [
      [0, 1, 0.9],
      [0, 1, 0.9],
      [0, 0, 10],
    ];
    const x = tf.zeros([2, 1, 1, 1]) as tf.Tensor4D;
    const maj = await stochasticPredict(new ScriptedClassifier(script), x, 3, 'majority');
    expect(Array.from(maj.prediction)).toEqual([1, 1]);
    expect(maj.agreement[0]).toBeCloseTo(2 / 3, 6);
    const mean = await stochasticPredict(new ScriptedClassifier(script), x, 3, 'mean');
    expect(Array.from(mean.prediction)).toEqual([2, 2]);
    expect(mean.agreement[0]).toBeCloseTo(1 / 3, 6);
    x.dispose();
  });
});

/** 4 pixels, 3 classes; pixel 3 has zero weight for every class, so exactly 1/4 of the gradient is zero. */
function modelWithDeadPixel(): LinearClassifier {
  return new LinearClassifier({
    inputShape: [1, 1, 4],
    numClasses: 3,
    weights: [1.0, -0.5, 0.2, -0.3, 0.8, -0.6, 0.5, 0.1, -0.9, 0, 0, 0],
  });
}

describe('evaluateAttack', () => {
  test('run records and per-sample records are consistent (uneven batches)', async () => {
    const m = modelWithDeadPixel();
    const x = randomImages(11, [1, 1, 4], 3);
    const labels = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1]);
    const indices = Int32Array.from(labels, (_, i) => 100 + i);
    const eps = [0, 0.05, 0.3];
    const progress: number[] = [];
    const runs = await evaluateAttack(m, { x, labels, indices }, new Pgd({ steps: 5 }), eps, {
      seed: 4,
      batchSize: 4,
      epsSpace: 'normalized',
      epsInSpace: [0, 0.1, 0.6],
      modelId: 'toy',
      onProgress: (f) => progress.push(f),
    });
    const clean = Array.from(await tf.tidy(() => tf.argMax(m.logits(x), 1)).data());
    const cleanAcc = clean.filter((p, i) => p === labels[i]).length / 11;
    expect(runs).toHaveLength(3);
    runs.forEach(({ run, perSample }, e) => {
      expect(run).toMatchObject({ model: 'toy', attack: 'pgd', threat: 'white-box', norm: 'linf', eps: eps[e], epsSpace: 'normalized', epsInSpace: [0, 0.1, 0.6][e], n: 11, gradient: 'true' });
      expect(run.params).toMatchObject({ steps: 5, seed: 4, batchSize: 4 });
      expect(run.cleanAccuracy).toBeCloseTo(cleanAcc, 10);
      expect(run.gradientStats).toEqual({ zeroFraction: 0.25, nanFraction: 0 });
      expect(run.eot).toBeUndefined();
      expect(perSample.map((r) => r.index)).toEqual(Array.from(indices));
      expect(perSample.map((r) => r.cleanPrediction)).toEqual(clean);
      const robust = perSample.filter((r, i) => clean[i] === labels[i] && r.adversarialPrediction === r.label).length;
      expect(run.robustAccuracy).toBeCloseTo(robust / 11, 10);
      expect(run.robustAccuracy).toBeLessThanOrEqual(run.cleanAccuracy);
      perSample.forEach((r) => expect(r.perturbationNorm!).toBeLessThanOrEqual(eps[e] + 1e-6));
      perSample.forEach((r) => expect(r.success).toBe(r.adversarialPrediction !== r.label));
    });
    expect(runs[0].run.robustAccuracy).toBeCloseTo(cleanAcc, 10);
    expect(runs[0].run.successRate).toBe(0);
    expect(runs[2].run.robustAccuracy).toBeLessThan(cleanAcc); // a large eps must break a linear model
    expect(runs[2].run.successRate!).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toBe(1);
    // Same seed, same records.
    const again = await evaluateAttack(m, { x, labels, indices }, new Pgd({ steps: 5 }), eps, { seed: 4, batchSize: 4, epsSpace: 'normalized', modelId: 'toy' });
    expect(again.map((r) => r.perSample)).toEqual(runs.map((r) => r.perSample));
    x.dispose();
    m.dispose();
  });

  test('NaN gradients are counted (C11)', async () => {
    const m = modelWithDeadPixel();
    const nanModel: Classifier = {
      id: 'nan',
      numClasses: 3,
      inputShape: [1, 1, 4],
      stochastic: false,
      normalizationStd: [1],
      gradientMode: 'bpda-random',
      logits: (x) => m.logits(x),
      lossAndGradient: (x, labels, loss) =>
        tf.tidy(() => {
          const r = m.lossAndGradient(x, labels, loss);
          const mask = tf.tensor4d([1, 1, 0, 1], [1, 1, 1, 4]);
          return { loss: r.loss, grad: tf.where(tf.equal(mask, 0), tf.fill(x.shape, NaN), r.grad) as tf.Tensor4D };
        }),
    };
    const x = randomImages(3, [1, 1, 4], 8);
    const [r] = await evaluateAttack(nanModel, { x, labels: Int32Array.from([0, 1, 2]) }, new Fgsm(), [0.1], { seed: 0, batchSize: 8, epsSpace: 'pixel', modelId: 'nan' });
    expect(r.run.gradientStats).toEqual({ zeroFraction: 0.25, nanFraction: 0.25 });
    expect(r.run.gradient).toBe('bpda-random');
    // NaN gradient entries are treated as zero by the attack: the adversarial points stay finite.
    r.perSample.forEach((s) => expect(Number.isFinite(s.perturbationNorm)).toBe(true));
    r.perSample.forEach((s) => expect(s.perturbationNorm!).toBeCloseTo(0.1, 5));
    x.dispose();
    m.dispose();
  });

  test('targeted and stochastic (EOT) evaluation; tensor count flat', async () => {
    const w: number[] = [];
    for (let i = 0; i < 4; i++) for (let k = 0; k < 4; k++) w.push(i === k ? 4 : 0);
    const noisy = new NoisyLinearClassifier({ inputShape: [1, 1, 4], numClasses: 4, weights: w, noiseStd: 0.01, noiseSeed: 2 });
    const model = withEot(noisy, { samples: 3, evalPasses: 5 });
    const x = tf.tensor4d([0.8, 0.5, 0.5, 0.5, 0.5, 0.8, 0.5, 0.5], [2, 1, 1, 4]);
    const data = { x, labels: Int32Array.from([0, 1]) };
    const opts = { seed: 1, batchSize: 2, epsSpace: 'pixel' as const, modelId: 'noisy', targets: Int32Array.from([2, 3]) };
    const attack = new Pgd({ steps: 10, randomStart: false });
    await evaluateAttack(model, data, attack, [0.3], opts);
    const before = tf.memory().numTensors;
    const [r] = await evaluateAttack(model, data, attack, [0.3], opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.run.eot).toEqual({ samples: 3, evalPasses: 5 });
    // a score-based attack on the same wrapped model asks one noisy pass per query: no gradient samples to record
    const [q] = await evaluateAttack(model, data, new SquareAttack({ maxQueries: 20 }), [0.3], { ...opts, targets: undefined });
    expect(q.run.eot).toEqual({ samples: 1, evalPasses: 5 });
    expect(r.run.targeted).toBe(true);
    expect(r.perSample.map((s) => s.adversarialPrediction)).toEqual([2, 3]);
    expect(r.perSample.every((s) => s.success)).toBe(true);
    expect(r.run.successRate).toBe(1);
    expect(r.run.robustAccuracy).toBe(0);
    x.dispose();
    noisy.dispose();
  });

  test('bad options are UserErrors', async () => {
    const m = modelWithDeadPixel();
    const x = randomImages(2, [1, 1, 4], 8);
    const data = { x, labels: Int32Array.from([0, 1]) };
    const base = { seed: 0, batchSize: 2, epsSpace: 'pixel' as const, modelId: 'm' };
    await expect(evaluateAttack(m, data, new Fgsm(), [0.1], { ...base, batchSize: 0 })).rejects.toThrow(/batch size '0'/);
    await expect(evaluateAttack(m, data, new Fgsm(), [-1], base)).rejects.toThrow(UserError);
    await expect(evaluateAttack(m, { x, labels: Int32Array.from([0]) }, new Fgsm(), [0.1], base)).rejects.toThrow(UserError);
    x.dispose();
    m.dispose();
  });

  test('writePerSample writes JSONL atomically and returns the relative path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-ps-'));
    const recs = [
      { index: 3, label: 1, cleanPrediction: 1, adversarialPrediction: 2, success: true, eps: 0.03, loss: 1.5, perturbationNorm: 0.03 },
      { index: 4, label: 0, cleanPrediction: 0, adversarialPrediction: 0, success: false, eps: 0.03 },
    ];
    const rel = writePerSample(dir, 7, recs);
    expect(rel).toBe('runs/0007.jsonl');
    const lines = fs.readFileSync(path.join(dir, rel), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(recs);
    expect(fs.readdirSync(path.join(dir, 'runs'))).toEqual(['0007.jsonl']);
    expect(() => writePerSample(dir, -1, recs)).toThrow(UserError);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('presets', () => {
  test('reference-whitebox expands normalized eps and step size to pixels (CIFAR-10 std 0.5)', () => {
    const runs = expandPreset('reference-whitebox', [0.5, 0.5, 0.5]);
    expect(runs.map((r) => r.attack)).toEqual(['fgsm', 'pgd']);
    for (const r of runs) {
      expect(r.epsSpace).toBe('normalized');
      expect(r.epsInSpace).toEqual([0, 0.01, 0.02, 0.03, 0.04, 0.05]);
      r.eps.forEach((v, i) => expect(v).toBeCloseTo([0, 0.005, 0.01, 0.015, 0.02, 0.025][i], 12));
      expect(() => WHITEBOX_ATTACKS[r.attack](r.params)).not.toThrow();
    }
    expect(runs[1].params).toMatchObject({ steps: 50, stepSize: 0.005, randomStart: false });
    expect(ATTACK_PRESETS['reference-whitebox'].groups[0].attacks[1].params.stepSize).toBe(0.01); // data unchanged
  });

  test('standard: 8/255 L-inf and 0.5 L2 in pixels, PGD + APGD-CE + APGD-DLR', () => {
    const runs = expandPreset('standard', [0.267, 0.256, 0.276]);
    expect(runs.map((r) => `${r.attack}/${r.norm}/${r.eps[0].toFixed(5)}`)).toEqual([
      'pgd/linf/0.03137',
      'apgd-ce/linf/0.03137',
      'apgd-dlr/linf/0.03137',
      'pgd/l2/0.50000',
      'apgd-ce/l2/0.50000',
      'apgd-dlr/l2/0.50000',
    ]);
    for (const r of runs) {
      const a = WHITEBOX_ATTACKS[r.attack](r.params);
      expect(a.norm).toBe(r.norm);
    }
    expect(runs[0].params.randomStart).toBe(true);
    expect(() => getPreset('autoattack')).toThrow(/'autoattack'/);
  });
});
