/**
 * The query engine on a stochastic model (attacks/blackbox/engine.ts): a pass that looks adversarial by noise alone
 * is confirmed by the evaluation's vote before the attack may stop on it, and the confirming queries are charged.
 * Toy: logits = [x + n, 0.5] with n ~ N(0, 0.1^2) per query, label 0, so x = 0.65 is correct but one pass in
 * about 15 says class 1 (P(n < -0.15) = 6.7%), while a vote of 9 passes almost never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { runQueryAttack, type ExampleProgram, type ExampleTask, type LabelReply } from '../attacks/blackbox/engine';
import { withEot } from '../attacks/eot';
import { NoisyLinearClassifier } from './helpers/toy-classifiers';

beforeAll(async () => {
  await initBackend('cpu', true);
});

const noisy = (): NoisyLinearClassifier =>
  new NoisyLinearClassifier({ inputShape: [1, 1, 1], numClasses: 2, weights: [1, 0], bias: [0, 0.5], noiseStd: 0.1, noiseSeed: 5 });

let rounds = 0;
/** Asks about x0 itself until the budget is spent; stops at the first reply that reaches the goal. */
function* askClean(task: ExampleTask): ExampleProgram<LabelReply> {
  rounds = 0;
  while (task.remaining() >= 1) {
    rounds++;
    const reply = yield [task.x0];
    if (task.reached(reply.predictions[0])) return { adversarial: task.x0, success: true, successRow: 0 };
  }
  return { adversarial: task.x0, success: false };
}

/** Asks once about the clean input lowered by eps (0.65 - 0.4 = 0.25: class 1 on any pass). */
function* askShifted(task: ExampleTask): ExampleProgram<LabelReply> {
  const shifted = Float32Array.from(task.x0, (v) => v - task.eps);
  const reply = yield [shifted];
  return { adversarial: shifted, success: task.reached(reply.predictions[0]), successRow: 0 };
}

/** One request of [x0, shifted, shifted]: stops at the first row that reaches the goal (as Parsimonious does). */
function* askThree(task: ExampleTask): ExampleProgram<LabelReply> {
  const shifted = Float32Array.from(task.x0, (v) => v - task.eps);
  const rows = [task.x0, shifted, shifted.slice()];
  const reply = yield rows;
  for (let r = 0; r < rows.length; r++) if (task.reached(reply.predictions[r])) return { adversarial: rows[r], success: true, successRow: r };
  return { adversarial: task.x0, success: false };
}

/** The same request, but only row 0 is the iterate (Bandits, NES: the other rows are probes). */
function* askIterateOnly(task: ExampleTask): ExampleProgram<LabelReply> {
  const shifted = Float32Array.from(task.x0, (v) => v - task.eps);
  const reply = yield [task.x0, shifted, shifted.slice()];
  return task.reached(reply.predictions[0]) ? { adversarial: task.x0, success: true, successRow: 0 } : { adversarial: task.x0, success: false };
}

async function attack(passes: number, program: (t: ExampleTask) => ExampleProgram<LabelReply>, eps: number, budget: number, successRows: 'first' | 'any' = 'any') {
  const model = noisy();
  const wrapped = withEot(model, { evalPasses: passes });
  const x = tf.tensor4d([0.65], [1, 1, 1, 1]);
  const options = { name: 'probe', mode: 'labels' as const, norm: 'linf' as const, budget, successRows };
  const [out] = await runQueryAttack(wrapped, x, Int32Array.from([0]), [eps], { seed: 0 }, options, program);
  const result = { success: out.success[0], queries: out.queries?.[0], adversarial: Array.from(await out.adversarial.data()) };
  out.adversarial.dispose();
  x.dispose();
  model.dispose();
  return result;
}

describe('black-box queries on a stochastic model', () => {
  test('one lucky noisy pass stops the attack when nothing confirms it', async () => {
    const r = await attack(1, askClean, 0.4, 100);
    expect(r.success).toBe(true);
    expect(r.queries).toBeLessThan(100);
  });

  test("the evaluation's vote over 9 passes confirms a success first: the noise flips are not taken, their re-queries are charged", async () => {
    const r = await attack(9, askClean, 0.4, 100);
    expect(r.success).toBe(false);
    // the program asked until the budget ran out: the clean query, its own queries, and 8 per flip it did not keep
    expect(r.queries).toBe(100);
    const flips = (100 - 1 - rounds) / 8;
    expect(Number.isInteger(flips) && flips >= 1).toBe(true);
  });

  test('a real success is confirmed and its queries to success count the confirmation', async () => {
    // clean query (1; correct on its pass, so no confirmation), the shifted query (1), its 8 confirming re-queries
    expect(await attack(9, askShifted, 0.4, 100)).toEqual({ success: true, queries: 10, adversarial: [expect.closeTo(0.25, 6)] });
    // a deterministic reading of the same toy: no confirmation, 2 queries
    expect((await attack(1, askShifted, 0.4, 100)).queries).toBe(2);
    // without the budget to confirm it the success is not taken
    expect((await attack(9, askShifted, 0.4, 5)).success).toBe(false);
  });

  test('only rows the attack may stop on are confirmed, the first that holds per example', async () => {
    // any row: row 0 (correct on its pass) needs nothing, row 1 is confirmed (8) and holds, row 2 is left alone
    expect(await attack(9, askThree, 0.4, 100)).toMatchObject({ success: true, queries: 1 + 2 + 8 });
    // iterate only: rows 1 and 2 are probes, never confirmed: the clean query and the request's 3 rows
    expect(await attack(9, askIterateOnly, 0.4, 100, 'first')).toMatchObject({ success: false, queries: 1 + 3 });
    // a row outside the eps-ball is no candidate either: 0.25 is class 1 on every pass, but 0.4 from x0
    const far = function* (task: ExampleTask): ExampleProgram<LabelReply> {
      yield [Float32Array.from(task.x0, (v) => v - 0.4)];
      return { adversarial: task.x0, success: false };
    };
    expect((await attack(9, far, 0.3, 100)).queries).toBe(2);
    expect((await attack(9, far, 0.4, 100)).queries).toBe(2 + 8);
  });
});
