import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import type { Attack, AttackOutcome, Classifier } from '../src/types';
import { UserError } from '../src/util/errors';
import { QueryBudgetError, QueryCounter } from '../attacks/query-counter';
import { createBlackboxAttack, BLACKBOX_ATTACKS, BLACKBOX_PRESETS } from '../attacks/blackbox';
import { pSchedule, metaPseudoGaussian } from '../attacks/blackbox/square';
import { queryStats, successCurve } from '../attacks/blackbox/curves';
import { marginFromLogits } from '../attacks/blackbox/pixels';
import { predictedLabels, randomImages, RowRecorder, ToyLinear } from './helpers/blackbox-toys';

const SHAPE: [number, number, number] = [8, 8, 3];

beforeAll(async () => {
  await initBackend('cpu', true);
});

function disposeAll(outs: AttackOutcome[]): void {
  for (const o of outs) o.adversarial.dispose();
}

function maxDist(a: Float32Array, b: Float32Array, norm: 'linf' | 'l2', i: number, dim: number): number {
  let acc = 0;
  for (let j = i * dim; j < (i + 1) * dim; j++) {
    const d = Math.abs(a[j] - b[j]);
    acc = norm === 'linf' ? Math.max(acc, d) : acc + d * d;
  }
  return norm === 'linf' ? acc : Math.sqrt(acc);
}

describe('QueryCounter', () => {
  test('charges exactly one query per row to its owner and refuses calls beyond the budget', async () => {
    const model = new ToyLinear(SHAPE, 4, 1);
    const rec = new RowRecorder(model);
    const counter = new QueryCounter(rec, 3, 5);
    const dim = 8 * 8 * 3;
    await counter.scores(new Float32Array(4 * dim), [0, 0, 2, 1]);
    expect(Array.from(counter.counts())).toEqual([2, 1, 1]);
    const labels = await counter.topLabels(new Float32Array(3 * dim), [0, 0, 0]);
    expect(labels.length).toBe(3);
    expect(Array.from(counter.counts())).toEqual([5, 1, 1]);
    expect(counter.remaining(0)).toBe(0);
    // Refused before anything is charged or the model is called.
    await expect(counter.scores(new Float32Array(2 * dim), [1, 0])).rejects.toBeInstanceOf(QueryBudgetError);
    expect(Array.from(counter.counts())).toEqual([5, 1, 1]);
    expect(rec.calls).toEqual([4, 3]);
    expect(counter.total()).toBe(7);
    expect(counter.callCount()).toBe(2);
    // Classifier view: row i -> example i.
    const view = new QueryCounter(model, 3, 2);
    const x = tf.zeros([2, ...SHAPE]) as tf.Tensor4D;
    view.logits(x).dispose();
    view.logits(x).dispose();
    expect(Array.from(view.counts())).toEqual([2, 2, 0]);
    expect(() => view.logits(x)).toThrow(QueryBudgetError);
    x.dispose();
    expect(() => new QueryCounter(rec, 3, -1)).toThrow(UserError);
    model.dispose();
  });

  test('maxRowsPerCall splits the forward pass without changing counts or logits', async () => {
    const model = new ToyLinear(SHAPE, 4, 2);
    const rec = new RowRecorder(model);
    const dim = 8 * 8 * 3;
    const pixels = new Float32Array(5 * dim).map((_, i) => (i % 17) / 17);
    const whole = await new QueryCounter(model, 1, 10).scores(pixels, [0, 0, 0, 0, 0]);
    const split = new QueryCounter(rec, 1, 10, { maxRowsPerCall: 2 });
    const parts = await split.scores(pixels, [0, 0, 0, 0, 0]);
    expect(rec.calls).toEqual([2, 2, 1]);
    expect(split.queries(0)).toBe(5);
    for (let i = 0; i < whole.length; i++) expect(parts[i]).toBeCloseTo(whole[i], 5);
    model.dispose();
  });
});

describe('margins, schedules, curves', () => {
  test('margin from logits, untargeted and targeted', () => {
    const z = [1, 3, 2, 0];
    expect(marginFromLogits(z, 0, 4, 1)).toBe(1); // 3 - 2
    expect(marginFromLogits(z, 0, 4, 2)).toBe(-1); // 2 - 3
    expect(marginFromLogits(z, 0, 4, 1, 3)).toBe(3); // target 3: max other 3 - 0
  });

  test('square p schedule halves at the published breakpoints', () => {
    expect(pSchedule(0.8, 0, 10000)).toBe(0.8);
    expect(pSchedule(0.8, 10, 10000)).toBe(0.8);
    expect(pSchedule(0.8, 11, 10000)).toBe(0.4);
    expect(pSchedule(0.8, 50, 10000)).toBe(0.4);
    expect(pSchedule(0.8, 51, 10000)).toBe(0.2);
    expect(pSchedule(0.8, 9000, 10000)).toBeCloseTo(0.8 / 512);
    expect(pSchedule(0.8, 500, 5000)).toBe(0.8 / 16); // 500/5000 -> 1000 on the 10k scale
  });

  test('meta pseudo-Gaussian bump: unit norm, opposite halves', () => {
    const d = metaPseudoGaussian(5, false);
    const norm = Math.sqrt(d.reduce((a, v) => a + v * v, 0));
    expect(norm).toBeCloseTo(1, 10);
    expect(d[0 * 5 + 2]).toBeGreaterThan(0);
    expect(d[4 * 5 + 2]).toBeLessThan(0);
    const t = metaPseudoGaussian(5, true);
    expect(t[2 * 5 + 0]).toBeCloseTo(d[0 * 5 + 2]);
  });

  test('success curve and query stats on a hand-made case', () => {
    const success = [true, false, true, true];
    const queries = [10, 100, 5, 10];
    expect(successCurve(success, queries, { budget: 100 })).toEqual([
      [5, 0.25],
      [10, 0.75],
      [100, 0.75],
    ]);
    const s = queryStats(success, queries);
    expect(s?.mean).toBeCloseTo(25 / 3);
    expect(s?.median).toBe(10);
    expect(queryStats([false], [3])).toBeUndefined();
    expect(() => successCurve([true], [1, 2])).toThrow(UserError);
  });
});

const ATTACKS: { name: string; params: Record<string, unknown>; norm: 'linf' | 'l2' }[] = [
  { name: 'square', params: { norm: 'linf', maxQueries: 60 }, norm: 'linf' },
  { name: 'square', params: { norm: 'l2', maxQueries: 60 }, norm: 'l2' },
  { name: 'nes', params: { maxQueries: 60, samples: 10 }, norm: 'linf' },
  { name: 'bandits', params: { maxQueries: 60, priorSize: 4 }, norm: 'linf' },
  { name: 'parsimonious', params: { maxQueries: 60, batchSize: 8 }, norm: 'linf' },
  { name: 'hsja', params: { norm: 'l2', maxQueries: 80, initEvals: 10 }, norm: 'l2' },
  { name: 'hsja', params: { norm: 'linf', maxQueries: 80, initEvals: 10 }, norm: 'linf' },
];

describe.each(ATTACKS)('$name $norm', ({ name, params, norm }) => {
  const epsilons = norm === 'linf' ? [0, 0.02, 0.1] : [0, 0.3, 1.5];

  test('feasible outputs, budgets, exact query accounting, seeds (property-style)', async () => {
    const model = new ToyLinear(SHAPE, 5, 3);
    const dim = 8 * 8 * 3;
    for (const seed of [0, 1, 2]) {
      const x = randomImages(5, SHAPE, 100 + seed);
      const labels = predictedLabels(model, x);
      const rec = new RowRecorder(model);
      const attack: Attack = createBlackboxAttack(name, params);
      expect(attack.norm).toBe(norm);
      const outs = await attack.run(rec, x, labels, epsilons, { seed });
      const budget = params.maxQueries as number;
      const x0 = x.dataSync() as Float32Array;
      let spent = 0;
      for (const o of outs) {
        const adv = o.adversarial.dataSync() as Float32Array;
        const q = o.queries as number[];
        const preds = predictedLabels(model, o.adversarial);
        for (let i = 0; i < 5; i++) {
          expect(q[i]).toBeGreaterThanOrEqual(1);
          expect(q[i]).toBeLessThanOrEqual(budget);
          expect(maxDist(adv, x0, norm, i, dim)).toBeLessThanOrEqual(o.eps * (1 + 1e-5) + 1e-6);
          // Success is real: the returned point is misclassified.
          if (o.success[i]) expect(preds[i]).not.toBe(labels[i]);
        }
        for (let j = 0; j < adv.length; j++) {
          expect(adv[j]).toBeGreaterThanOrEqual(0);
          expect(adv[j]).toBeLessThanOrEqual(1);
        }
        if (o.eps === 0) expect(o.success.every((s) => !s)).toBe(true);
        // Failed examples report the queries actually spent; with one row per success position the
        // reported queries can only be <= spent.
        spent += q.reduce((a, b) => a + b, 0);
      }
      expect(spent).toBeLessThanOrEqual(rec.totalRows());
      expect(rec.totalRows()).toBeLessThanOrEqual(5 * budget * epsilons.length);
      // The first call of each eps is the clean batch: all examples in one call.
      expect(rec.calls[0]).toBe(5);
      disposeAll(outs);
      x.dispose();
    }
    model.dispose();
  });

  test('same seed reproduces, another seed differs; tensor count flat', async () => {
    const model = new ToyLinear(SHAPE, 5, 4);
    const x = randomImages(4, SHAPE, 7);
    const labels = predictedLabels(model, x);
    const eps = norm === 'linf' ? [0.02] : [0.3];
    const run = async (seed: number) => {
      const outs = await createBlackboxAttack(name, params).run(model, x, labels, eps, { seed });
      const r = { adv: Array.from(outs[0].adversarial.dataSync()), q: outs[0].queries };
      disposeAll(outs);
      return r;
    };
    const a = await run(5);
    const before = tf.memory().numTensors;
    const b = await run(5);
    await run(6);
    expect(tf.memory().numTensors).toBe(before);
    expect(b).toEqual(a);
    const c = await run(6);
    expect(c.adv).not.toEqual(a.adv);
    x.dispose();
    model.dispose();
  });
});

describe('progress', () => {
  test('a running example counts by the share of its budget spent: progress rises every round, reaches 1 at the end', async () => {
    // eps 0 leaves every example correct, so each one runs to its budget and none finishes early
    const model = new ToyLinear(SHAPE, 4, 2);
    const x = randomImages(3, SHAPE, 5);
    const labels = predictedLabels(model, x);
    const seen: number[] = [];
    const outs = await createBlackboxAttack('square', { maxQueries: 40 }).run(model, x, labels, [0], { seed: 1, onProgress: (f) => seen.push(f) });
    expect(outs[0].success.every((s) => !s)).toBe(true);
    disposeAll(outs);
    expect(seen.length).toBeGreaterThan(10);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    // before the last round nothing had finished, yet progress was well past zero
    expect(seen[seen.length - 2]).toBeGreaterThan(0.5);
    expect(seen[seen.length - 1]).toBeCloseTo(1, 10);
    x.dispose();
    model.dispose();
  });
});

describe('attack strength on a linear model', () => {
  async function successRate(name: string, params: Record<string, unknown>, eps: number, n = 8): Promise<{ rate: number; out: AttackOutcome }> {
    const model = new ToyLinear(SHAPE, 10, 11);
    const x = randomImages(n, SHAPE, 21);
    const labels = predictedLabels(model, x);
    const [out] = await createBlackboxAttack(name, params).run(model, x, labels, [eps], { seed: 0 });
    x.dispose();
    model.dispose();
    return { rate: out.success.filter(Boolean).length / n, out };
  }

  test.each([
    ['square', { norm: 'linf', maxQueries: 300 }, 0.1],
    ['square', { norm: 'l2', maxQueries: 300 }, 2.0],
    ['nes', { maxQueries: 600, samples: 20, stepSize: 0.02 }, 0.1],
    ['bandits', { maxQueries: 600, priorSize: 4, imageLr: 0.02 }, 0.1],
    ['parsimonious', { maxQueries: 600, batchSize: 16 }, 0.1],
  ])('%s %j succeeds at large eps', async (name, params, eps) => {
    const { rate, out } = await successRate(name, params, eps);
    expect(rate).toBeGreaterThanOrEqual(0.75);
    out.adversarial.dispose();
  });

  test('Square and NES reduce the margin at small eps (a smooth loss goes down)', async () => {
    for (const [name, params] of [
      ['square', { norm: 'linf', maxQueries: 200 }],
      ['nes', { maxQueries: 200, samples: 10, stepSize: 0.002 }],
    ] as const) {
      const model = new ToyLinear(SHAPE, 10, 11);
      const x = randomImages(6, SHAPE, 22);
      const labels = predictedLabels(model, x);
      const clean = tf.tidy(() => model.logits(x)).dataSync();
      const [out] = await createBlackboxAttack(name, params).run(model, x, labels, [0.004], { seed: 1 });
      const advLogits = tf.tidy(() => model.logits(out.adversarial)).dataSync();
      for (let i = 0; i < 6; i++) {
        const m0 = marginFromLogits(clean, i * 10, 10, labels[i]);
        const m1 = marginFromLogits(advLogits, i * 10, 10, labels[i]);
        expect(m1).toBeLessThan(m0);
        if (!out.success[i]) expect(out.loss?.[i]).toBeCloseTo(m1, 4);
      }
      out.adversarial.dispose();
      x.dispose();
      model.dispose();
    }
  });

  test('targeted Square reaches the target class', async () => {
    const model = new ToyLinear(SHAPE, 4, 12);
    const x = randomImages(4, SHAPE, 23);
    const labels = predictedLabels(model, x);
    const targets = Int32Array.from(labels, (l) => (l + 1) % 4);
    const [out] = await createBlackboxAttack('square', { maxQueries: 400 }).run(model, x, labels, [0.2], { seed: 0, targets });
    const preds = predictedLabels(model, out.adversarial);
    for (let i = 0; i < 4; i++) if (out.success[i]) expect(preds[i]).toBe(targets[i]);
    expect(out.success.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    out.adversarial.dispose();
    x.dispose();
    model.dispose();
  });
});

describe('batching', () => {
  test('all running examples and all candidates of a step share ONE model call; finished examples stop', async () => {
    const model = new ToyLinear(SHAPE, 5, 3);
    const rec = new RowRecorder(model);
    const x = randomImages(6, SHAPE, 31);
    const labels = predictedLabels(model, x);
    const [out] = await createBlackboxAttack('nes', { maxQueries: 100, samples: 10 }).run(rec, x, labels, [0.3], { seed: 0 });
    // Clean call, then steps of (1 + 10) rows per running example.
    expect(rec.calls[0]).toBe(6);
    expect(rec.calls[1]).toBe(6 * 11);
    for (const c of rec.calls.slice(1)) expect(c % 11 === 0 || c < 11 * 6).toBe(true);
    const running = rec.calls.slice(1).map((c) => Math.ceil(c / 11));
    for (let t = 1; t < running.length; t++) expect(running[t]).toBeLessThanOrEqual(running[t - 1]);
    expect(out.success.filter(Boolean).length).toBeGreaterThan(0);
    out.adversarial.dispose();
    x.dispose();
    model.dispose();
  });
});

describe('HSJA on a linear two-class model', () => {
  test('finds the decision boundary: succeeds above the exact minimal L2 distance, fails below', async () => {
    const shape: [number, number, number] = [4, 4, 3];
    const model = new ToyLinear(shape, 2, 40);
    const d = 48;
    // Images near the centre of the box, moved along the boundary normal to an exact L2 distance 0.15
    // (the box constraint does not bind), so the minimal adversarial L2 distance is known.
    const W = model.weights;
    const b = model.bias;
    const wd = Array.from({ length: d }, (_, j) => W[j * 2] - W[j * 2 + 1]);
    const wn = Math.sqrt(wd.reduce((a, v) => a + v * v, 0));
    const r0 = randomImages(4, shape, 41);
    const raw = Float32Array.from(r0.dataSync(), (v) => 0.5 + 0.05 * v);
    r0.dispose();
    const dmin = [0.15, 0.15, 0.15, 0.15];
    const fGrey = b[0] - b[1] + 0.5 * wd.reduce((a, v) => a + v, 0);
    for (let i = 0; i < 4; i++) {
      let f = b[0] - b[1];
      for (let j = 0; j < d; j++) f += raw[i * d + j] * wd[j];
      // Start on the side opposite to mid-grey noise, so HSJA's random-noise initialisation can succeed.
      const goal = -Math.sign(fGrey) * dmin[i] * wn;
      for (let j = 0; j < d; j++) raw[i * d + j] -= ((f - goal) / (wn * wn)) * wd[j];
    }
    const x = tf.tensor4d(raw, [4, ...shape]);
    const labels = predictedLabels(model, x);
    const attack = createBlackboxAttack('hsja', { norm: 'l2', maxQueries: 3000, initEvals: 50 });
    for (let i = 0; i < 4; i++) {
      const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const [above, below] = await attack.run(model, xi, labels.slice(i, i + 1), [1.1 * dmin[i], 0.9 * dmin[i]], { seed: i });
      expect(above.success[0]).toBe(true);
      expect(below.success[0]).toBe(false);
      expect(predictedLabels(model, above.adversarial)[0]).not.toBe(labels[i]);
      above.adversarial.dispose();
      below.adversarial.dispose();
      xi.dispose();
    }
    x.dispose();
    model.dispose();
  });
});

describe('factory', () => {
  test('names, presets and validation', () => {
    for (const name of Object.keys(BLACKBOX_ATTACKS)) expect(createBlackboxAttack(name).name).toBe(name);
    for (const preset of Object.keys(BLACKBOX_PRESETS)) expect(createBlackboxAttack(preset).params).toBeDefined();
    const ref = createBlackboxAttack('bandits-reference');
    expect(ref.params).toMatchObject({ maxQueries: 15000, priorSize: 16, exploration: 0.1, imageLr: 0.01, onlineLr: 0.1 });
    expect(createBlackboxAttack('parsimonious').params).toMatchObject({ maxQueries: 20000, blockSize: 4, hierarchical: true });
    expect(createBlackboxAttack('square', { norm: 'l2' }).norm).toBe('l2');
    expect(createBlackboxAttack('hsja').threat).toBe('decision');
    expect(() => createBlackboxAttack('nope')).toThrow(UserError);
    expect(() => createBlackboxAttack('square', { norm: 'l1' })).toThrow(/bad norm 'l1'/);
    expect(() => createBlackboxAttack('nes', { samples: 7 })).toThrow(/even/);
    expect(() => createBlackboxAttack('nes', { sigma: -1 })).toThrow(UserError);
    expect(() => createBlackboxAttack('square', { maxQuerys: 5 })).toThrow(/unknown parameter 'maxQuerys'/);
    expect(() => createBlackboxAttack('bandits', { norm: 'l2' })).toThrow(UserError);
  });

  test('input validation: shape mismatch and bad eps', async () => {
    const model: Classifier = new ToyLinear(SHAPE, 3, 1);
    const x = randomImages(2, [4, 4, 3], 1);
    await expect(createBlackboxAttack('square').run(model, x, new Int32Array(2), [0.1], { seed: 0 })).rejects.toThrow(UserError);
    const y = randomImages(2, SHAPE, 1);
    await expect(createBlackboxAttack('square').run(model, y, new Int32Array(2), [-1], { seed: 0 })).rejects.toThrow(/bad eps/);
    x.dispose();
    y.dispose();
  });
});
