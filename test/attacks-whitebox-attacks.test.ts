/** FGSM, PGD and APGD on tiny linear classifiers with true gradients. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { WHITEBOX_ATTACKS, Apgd, Fgsm, Pgd } from '../attacks/whitebox';
import { apgdCheckpoints, apgdHalvings, apgdSchedule } from '../attacks/whitebox/apgd';
import { perExampleNorm } from '../attacks/projection';
import { UserError } from '../src/util/errors';
import { makeRng } from '../src/util/rng';
import type { AttackOutcome, Classifier } from '../src/types';
import { LinearClassifier, randomImages } from './helpers/toy-classifiers';

beforeAll(async () => {
  await initBackend('cpu', true);
});

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

function dispose(outcomes: AttackOutcome[]): void {
  for (const o of outcomes) o.adversarial.dispose();
}

/** logits = [x1 - x2, 2 x2, -x1] on a 1x1x2 image: the CE gradient sign is (-, +) everywhere for label 0. */
function tinyModel(): LinearClassifier {
  return new LinearClassifier({ inputShape: [1, 1, 2], numClasses: 3, weights: [1, 0, -1, -1, 2, 0] });
}

/** Input gradient of CE for the tiny model, by hand: W (softmax(z) - onehot(y)). */
function tinyGrad(x: number[], y: number): number[] {
  const p = softmax([x[0] - x[1], 2 * x[1], -x[0]]);
  p[y] -= 1;
  return [p[0] - p[2], -p[0] + 2 * p[1]];
}

describe('FGSM', () => {
  test('matches the hand-computed point (L-inf), with clipping to [0,1]', async () => {
    const m = tinyModel();
    const x = tf.tensor4d([0.5, 0.5, 0.05, 0.98], [2, 1, 1, 2]);
    const out = await new Fgsm().run(m, x, Int32Array.from([0, 0]), [0.1], { seed: 0 });
    const adv = Array.from(out[0].adversarial.dataSync());
    [0.4, 0.6, 0, 1].forEach((v, i) => expect(adv[i]).toBeCloseTo(v, 6));
    dispose(out);
    x.dispose();
    m.dispose();
  });

  test('L2: x + eps g / ||g||', async () => {
    const m = tinyModel();
    const x0 = [0.5, 0.5];
    const g = tinyGrad(x0, 0);
    const n = Math.hypot(g[0], g[1]);
    const x = tf.tensor4d(x0, [1, 1, 1, 2]);
    const out = await new Fgsm({ norm: 'l2' }).run(m, x, Int32Array.from([0]), [0.2], { seed: 0 });
    const adv = Array.from(out[0].adversarial.dataSync());
    expect(adv[0]).toBeCloseTo(0.5 + (0.2 * g[0]) / n, 5);
    expect(adv[1]).toBeCloseTo(0.5 + (0.2 * g[1]) / n, 5);
    dispose(out);
    x.dispose();
    m.dispose();
  });
});

describe('PGD', () => {
  test('L-inf without random start follows the hand-computed iterates', async () => {
    const m = tinyModel();
    const x = tf.tensor4d([0.5, 0.5], [1, 1, 1, 2]);
    const labels = Int32Array.from([0]);
    const run = async (steps: number) => {
      const out = await new Pgd({ steps, stepSize: 0.04, randomStart: false }).run(m, x, labels, [0.1], { seed: 0 });
      const v = Array.from(out[0].adversarial.dataSync());
      dispose(out);
      return v;
    };
    const one = await run(1);
    const two = await run(2);
    const three = await run(3);
    [0.46, 0.54].forEach((v, i) => expect(one[i]).toBeCloseTo(v, 6));
    [0.42, 0.58].forEach((v, i) => expect(two[i]).toBeCloseTo(v, 6));
    [0.4, 0.6].forEach((v, i) => expect(three[i]).toBeCloseTo(v, 6)); // projected back onto the box
    x.dispose();
    m.dispose();
  });

  test('L2 without random start matches a hand-rolled reference loop', async () => {
    const m = tinyModel();
    const eps = 0.15;
    const step = 0.06;
    let p = [0.5, 0.5];
    for (let i = 0; i < 4; i++) {
      const g = tinyGrad(p, 0);
      const gn = Math.hypot(g[0], g[1]);
      let d = [p[0] + (step * g[0]) / gn - 0.5, p[1] + (step * g[1]) / gn - 0.5];
      const dn = Math.hypot(d[0], d[1]);
      if (dn > eps) d = d.map((v) => (v * eps) / dn);
      p = d.map((v) => Math.min(1, Math.max(0, 0.5 + v)));
    }
    const x = tf.tensor4d([0.5, 0.5], [1, 1, 1, 2]);
    const out = await new Pgd({ norm: 'l2', steps: 4, stepSize: step, randomStart: false }).run(m, x, Int32Array.from([0]), [eps], { seed: 0 });
    const adv = Array.from(out[0].adversarial.dataSync());
    expect(adv[0]).toBeCloseTo(p[0], 5);
    expect(adv[1]).toBeCloseTo(p[1], 5);
    dispose(out);
    x.dispose();
    m.dispose();
  });

  test('never leaves the eps-ball or [0,1] (random models, inputs, eps; both norms)', async () => {
    const rng = makeRng(5, 'property');
    for (let trial = 0; trial < 6; trial++) {
      const norm = trial % 2 === 0 ? 'linf' : 'l2';
      const m = new LinearClassifier({ inputShape: [3, 3, 2], numClasses: 4, seed: 100 + trial });
      const x = randomImages(5, [3, 3, 2], 200 + trial);
      const labels = Int32Array.from({ length: 5 }, () => rng.int(4));
      const eps = norm === 'linf' ? [rng.range(0.01, 0.3), rng.range(0.3, 0.9)] : [rng.range(0.05, 1), rng.range(1, 3)];
      const attack = new Pgd({ norm, steps: 7, relStepSize: 0.5, randomStart: true, restarts: 2 });
      const out = await attack.run(m, x, labels, eps, { seed: trial });
      for (const o of out) {
        const a = o.adversarial.dataSync();
        for (const v of a) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
        const norms = tf.tidy(() => perExampleNorm(tf.sub(o.adversarial, x) as tf.Tensor4D, norm).dataSync());
        norms.forEach((v) => expect(v).toBeLessThanOrEqual(o.eps * (1 + 1e-5) + 1e-6));
      }
      dispose(out);
      x.dispose();
      m.dispose();
    }
  });

  test('eps = 0 returns the inputs unchanged (every attack)', async () => {
    const m = new LinearClassifier({ inputShape: [2, 2, 3], numClasses: 5, seed: 1 });
    const x = randomImages(4, [2, 2, 3], 9);
    const labels = Int32Array.from([0, 1, 2, 3]);
    const clean = await tf.tidy(() => tf.argMax(m.logits(x), 1)).data();
    for (const name of Object.keys(WHITEBOX_ATTACKS) as (keyof typeof WHITEBOX_ATTACKS)[]) {
      const out = await WHITEBOX_ATTACKS[name](name === 'fgsm' ? {} : { steps: 5 }).run(m, x, labels, [0, 0.1], { seed: 3 });
      expect(Array.from(out[0].adversarial.dataSync())).toEqual(Array.from(x.dataSync()));
      expect(out[0].adversarialPrediction).toEqual(Array.from(clean));
      expect(out[0].success).toEqual(Array.from(clean, (p, i) => p !== labels[i]));
      expect(Array.from(out[1].adversarial.dataSync())).not.toEqual(Array.from(x.dataSync()));
      dispose(out);
    }
    x.dispose();
    m.dispose();
  }, 60000);

  test('random start is deterministic for a fixed seed and differs across seeds', async () => {
    const m = new LinearClassifier({ inputShape: [2, 2, 3], numClasses: 5, seed: 2 });
    const x = randomImages(3, [2, 2, 3], 4);
    const labels = Int32Array.from([0, 1, 2]);
    const attack = new Pgd({ steps: 3, randomStart: true, relStepSize: 0.1 });
    const get = async (seed: number) => {
      const out = await attack.run(m, x, labels, [0.2], { seed });
      const v = Array.from(out[0].adversarial.dataSync());
      dispose(out);
      return v;
    };
    const a = await get(7);
    expect(await get(7)).toEqual(a);
    expect(await get(8)).not.toEqual(a);
    x.dispose();
    m.dispose();
  });

  test('restarts keep per example the successful, else the higher-loss point', async () => {
    const m = new LinearClassifier({ inputShape: [3, 3, 3], numClasses: 10, seed: 31 });
    const x = randomImages(16, [3, 3, 3], 32, 0.2, 0.8);
    const labels = Int32Array.from((await tf.tidy(() => tf.argMax(m.logits(x), 1)).data()) as Int32Array);
    const eps = [0.01];
    // Restart 0 uses the same derived seed in both runs, so the 4-restart result can only improve on it.
    const one = await new Pgd({ steps: 3, relStepSize: 0.5, restarts: 1 }).run(m, x, labels, eps, { seed: 5 });
    const four = await new Pgd({ steps: 3, relStepSize: 0.5, restarts: 4 }).run(m, x, labels, eps, { seed: 5 });
    const s1 = one[0].success;
    const s4 = four[0].success;
    expect(s1.some((v) => !v)).toBe(true); // the budget leaves unsuccessful examples to improve on
    s1.forEach((v, i) => {
      if (v) expect(s4[i]).toBe(true);
      else if (!s4[i]) expect(four[0].loss![i]).toBeGreaterThanOrEqual(one[0].loss![i]);
    });
    // Some unsuccessful example gained loss from the extra restarts.
    expect(s1.some((v, i) => !v && four[0].loss![i] > one[0].loss![i] + 1e-6)).toBe(true);
    dispose(one);
    dispose(four);
    x.dispose();
    m.dispose();
  });

  test('tensor count is flat across repeated attack calls', async () => {
    const m = new LinearClassifier({ inputShape: [2, 2, 3], numClasses: 5, seed: 3 });
    const x = randomImages(3, [2, 2, 3], 5);
    const labels = Int32Array.from([0, 1, 2]);
    const attacks = [new Fgsm(), new Pgd({ steps: 4, restarts: 2 }), new Apgd({ steps: 12, restarts: 2 }), new Apgd({ steps: 12, loss: 'dlr', norm: 'l2' })];
    for (const attack of attacks) {
      dispose(await attack.run(m, x, labels, [0, 0.05, 0.1], { seed: 1 }));
      const before = tf.memory().numTensors;
      dispose(await attack.run(m, x, labels, [0, 0.05, 0.1], { seed: 2 }));
      dispose(await attack.run(m, x, labels, [0.2], { seed: 3, targets: Int32Array.from([1, 2, 3]) }));
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
    m.dispose();
  });
});

/** Class k reads pixel k (W = I): any target is reachable by raising its pixel and lowering the others. */
function identityModel(): LinearClassifier {
  const w: number[] = [];
  for (let i = 0; i < 4; i++) for (let k = 0; k < 4; k++) w.push(i === k ? 4 : 0);
  return new LinearClassifier({ inputShape: [1, 1, 4], numClasses: 4, weights: w });
}

describe('targeted attacks', () => {
  test.each([
    ['pgd', { steps: 20, randomStart: false }],
    ['apgd-ce', { steps: 20 }],
    ['apgd-dlr', { steps: 20 }],
    ['fgsm', {}],
  ] as const)('%s reaches the target on the linear model', async (name, params) => {
    const m = identityModel();
    const x = tf.tensor4d([0.8, 0.5, 0.5, 0.5, 0.5, 0.8, 0.5, 0.5], [2, 1, 1, 4]);
    const labels = Int32Array.from([0, 1]);
    const targets = Int32Array.from([2, 3]);
    const out = await WHITEBOX_ATTACKS[name](params).run(m, x, labels, [0.3], { seed: 0, targets });
    expect(out[0].success).toEqual([true, true]);
    expect(out[0].adversarialPrediction).toEqual([2, 3]);
    dispose(out);
    x.dispose();
    m.dispose();
  });

  test('untargeted PGD fails at too small an eps and reports it', async () => {
    const m = identityModel();
    const x = tf.tensor4d([0.8, 0.5, 0.5, 0.5], [1, 1, 1, 4]);
    const out = await new Pgd({ steps: 10, randomStart: false }).run(m, x, Int32Array.from([0]), [0.1, 0.2], { seed: 0 });
    expect(out[0].success).toEqual([false]); // margin 0.3 > 2 * 0.1
    expect(out[1].success).toEqual([true]);
    dispose(out);
    x.dispose();
    m.dispose();
  });
});

describe('APGD', () => {
  test('checkpoint schedule of the reference code (N = 100)', () => {
    expect(apgdSchedule(100)).toEqual({ first: 22, decrease: 3, minimum: 6 });
    // p_j: 0, .22, .41, .57, .70, .80, .87, .93, .99 (Croce & Hein 2020) -> 22, 41, 57, 70, 80, 87, 93, 99
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
  });

  test('the two step-halving conditions, by hand', () => {
    // Columns = examples. Window of 5 transitions, rho = 0.75: halve if <= 3.75 increases.
    const history = [
      [0, 0, 0, 0],
      [1, 1, 1, 1],
      [2, 0, 2, 2],
      [3, 1, 3, 3],
      [4, 0, 4, 4],
      [5, 1, 5, 5],
    ];
    const reduced = [false, false, false, true];
    const bestLast = [0, 0, 10, 10];
    const best = [5, 1, 10, 10];
    // ex 0: 5/5 increases, best improved -> keep; ex 1: 3/5 increases -> (1) halve;
    // ex 2: 5/5 increases but best stuck and not reduced last time -> (2) halve; ex 3: reduced last time -> keep.
    expect(apgdHalvings(history, 5, 0.75, reduced, bestLast, best)).toEqual([false, true, true, false]);
    // Only the last `window` transitions count: with window 2, example 1 has 1/2 increases <= 1.5 -> halve.
    expect(apgdHalvings(history, 2, 0.75, [true, true, true, true], bestLast, best)).toEqual([false, true, false, false]);
  });

  test('reaches at least the loss / successes of PGD with the same budget (linear model, 10 classes)', async () => {
    const m = new LinearClassifier({ inputShape: [3, 3, 3], numClasses: 10, seed: 21 });
    const x = randomImages(8, [3, 3, 3], 22, 0.2, 0.8);
    const labels = Int32Array.from((await tf.tidy(() => tf.argMax(m.logits(x), 1)).data()) as Int32Array);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const count = (v: boolean[]) => v.filter(Boolean).length;
    // L2, eps 1, 10 steps: PGD with Madry's step 2.5 eps / N stops short of the optimum APGD reaches.
    const pgdL2 = await new Pgd({ norm: 'l2', steps: 10, randomStart: false }).run(m, x, labels, [1], { seed: 1 });
    const apgdL2 = await new Apgd({ norm: 'l2', steps: 10, randomStart: false }).run(m, x, labels, [1], { seed: 1 });
    expect(mean(apgdL2[0].loss!)).toBeGreaterThan(mean(pgdL2[0].loss!));
    // L-inf, eps 0.1: APGD keeps successful iterates, PGD only its last one.
    const pgdLinf = await new Pgd({ steps: 10, randomStart: false }).run(m, x, labels, [0.1], { seed: 1 });
    const apgdLinf = await new Apgd({ steps: 10, randomStart: false }).run(m, x, labels, [0.1], { seed: 1 });
    expect(count(apgdLinf[0].success)).toBeGreaterThanOrEqual(count(pgdLinf[0].success));
    // Never below the loss at the clean point.
    const clean = tf.tidy(() => {
      const z = m.logits(x);
      return Array.from(tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(tf.tensor1d(labels, 'int32'), 10)), 1)).dataSync());
    });
    apgdL2[0].loss!.forEach((l, i) => expect(l).toBeGreaterThanOrEqual(clean[i] - 1e-5));
    [pgdL2, apgdL2, pgdLinf, apgdLinf].forEach(dispose);
    x.dispose();
    m.dispose();
  });

  test('halves the step size when the loss oscillates (eps so large that 2 eps steps overshoot)', async () => {
    const m = tinyModel();
    const x = tf.tensor4d([0.5, 0.5], [1, 1, 1, 2]);
    // The loss saturates at the box corner: steps stop increasing it, so condition (1) must fire.
    const attack = new Apgd({ steps: 50, randomStart: false });
    const out = await attack.run(m, x, Int32Array.from([0]), [0.4], { seed: 0 });
    expect(attack.lastHalvings).toBeGreaterThan(0);
    const adv = Array.from(out[0].adversarial.dataSync());
    expect(adv[0]).toBeCloseTo(0.1, 5);
    expect(adv[1]).toBeCloseTo(0.9, 5);
    dispose(out);
    x.dispose();
    m.dispose();
  });
});

describe('factories and validation', () => {
  test('bad params are UserErrors naming the key/value', () => {
    expect(() => WHITEBOX_ATTACKS.pgd({ steps: 0 })).toThrow(UserError);
    expect(() => WHITEBOX_ATTACKS.pgd({ steps: 0 })).toThrow(/steps '0'/);
    expect(() => WHITEBOX_ATTACKS.pgd({ stepsize: 3 })).toThrow(/'stepsize'/);
    expect(() => WHITEBOX_ATTACKS.fgsm({ norm: 'l1' })).toThrow(/'l1'/);
    expect(() => WHITEBOX_ATTACKS['apgd-ce']({ rho: 1.5 })).toThrow(/rho '1.5'/);
    expect(() => WHITEBOX_ATTACKS['apgd-ce']({ loss: 'dlr' })).toThrow(/'loss'/);
    expect(() => WHITEBOX_ATTACKS.pgd({ randomStart: 'yes' })).toThrow(/randomStart 'yes'/);
    expect(() => WHITEBOX_ATTACKS.pgd({ stepSize: 0.01, relStepSize: 0.1 })).toThrow(UserError);
  });

  test('params record every resolved hyperparameter', () => {
    expect(WHITEBOX_ATTACKS.pgd({ steps: '10' }).params).toEqual({
      norm: 'linf',
      steps: 10,
      relStepSize: 0.25,
      randomStart: true,
      restarts: 1,
      loss: 'ce',
    });
    expect(WHITEBOX_ATTACKS.pgd({ stepSize: 0.005 }).params).not.toHaveProperty('relStepSize');
    const a = WHITEBOX_ATTACKS['apgd-dlr']({ norm: 'l2' });
    expect(a.name).toBe('apgd-dlr');
    expect(a.norm).toBe('l2');
    expect(a.params.loss).toBe('dlr');
  });

  test('a model without gradients is refused with a UserError', async () => {
    const inner = new LinearClassifier({ inputShape: [1, 1, 2], numClasses: 3, seed: 0 });
    const blackBox: Classifier = {
      id: 'opaque',
      numClasses: 3,
      inputShape: [1, 1, 2],
      stochastic: false,
      normalizationStd: [1],
      logits: (x) => inner.logits(x),
    };
    const x = tf.tensor4d([0.5, 0.5], [1, 1, 1, 2]);
    await expect(new Pgd().run(blackBox, x, Int32Array.from([0]), [0.1], { seed: 0 })).rejects.toThrow(/'opaque'/);
    await expect(new Pgd().run(inner, x, Int32Array.from([0, 1]), [0.1], { seed: 0 })).rejects.toThrow(UserError);
    await expect(new Pgd().run(inner, x, Int32Array.from([0]), [-0.1], { seed: 0 })).rejects.toThrow(/-0.1/);
    x.dispose();
    inner.dispose();
  });
});
