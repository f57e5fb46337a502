/**
 * The base of the gradient (white-box) attacks, in the spirit of Foolbox 3's final `run`: the base owns the loop
 * over the eps list and the restarts, the early stop (a restart attacks only the examples not yet successful),
 * the per-example records (a successful point over an unsuccessful one, then the higher final loss) and the
 * batch checks. An attack supplies small hooks: its loss, its restart count and `attackOnce` (one run from one
 * start on one subset). `IteratedGradientAttack` also owns the step loop of projected steepest ascent (FGSM is one
 * step of it, PGD many), so those attacks supply only the step count, the step size and the start.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackFacts, AttackOutcome, Classifier, LossAndGradient, LossFn, Norm } from '../../src/types';
import { UserError } from '../../src/util/errors';
import { deriveSeed } from '../../src/util/rng';
import { checkBatch, goalReached } from '../batch';
import { project, randomStart, steepestDirection } from '../projection';
import { formatEps } from '../eps';

/** The model's exposed gradient, or a UserError when it exposes none. */
export function requireGradient(
  model: Classifier,
  attackName: string,
): (x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn) => LossAndGradient {
  const f = model.lossAndGradient;
  if (!f) {
    throw new UserError(
      `model '${model.id}' exposes no input gradient: white-box attack '${attackName}' needs one (use a black-box attack)`,
    );
  }
  return f.bind(model);
}

/** Arg-max predictions of one forward pass. */
export async function predict(model: Classifier, x: tf.Tensor4D): Promise<Int32Array> {
  const p = tf.tidy(() => tf.argMax(model.logits(x), 1));
  const out = (await p.data()) as Int32Array;
  p.dispose();
  return Int32Array.from(out);
}

/** Forward-only per-example loss and predictions at x (one forward pass). */
export async function lossAndPrediction(
  model: Classifier,
  x: tf.Tensor4D,
  lossLabels: tf.Tensor1D,
  lossFn: LossFn,
): Promise<{ loss: Float32Array; prediction: Int32Array }> {
  const [l, p] = tf.tidy(() => {
    const z = model.logits(x);
    return [lossFn(z, lossLabels), tf.argMax(z, 1)];
  });
  const loss = Float32Array.from(await l.data());
  const prediction = Int32Array.from((await p.data()) as Int32Array);
  l.dispose();
  p.dispose();
  return { loss, prediction };
}

/** where(mask[i], a[i], b[i]) per example; mask is a JS boolean per row. */
export function selectRows(mask: ArrayLike<boolean>, a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = tf.tensor4d(Array.from(mask, (v) => (v ? 1 : 0)), [mask.length, 1, 1, 1], 'bool');
    return tf.where(tf.broadcastTo(m, a.shape), a, b) as tf.Tensor4D;
  });
}

function gatherRows<T extends tf.Tensor>(t: T, idx: number[]): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(idx, 'int32')) as T);
}

/** What `attackOnce` receives: one subset of the batch at one eps and one restart. */
export interface AttackOnceArgs {
  model: Classifier;
  x0: tf.Tensor4D;
  /** Labels the loss is called with: true labels, or targets for a targeted attack. */
  lossLabels: tf.Tensor1D;
  lossFn: LossFn;
  labels: Int32Array;
  targets?: Int32Array;
  eps: number;
  /** Seed for this (eps, restart). */
  seed: number;
  restart: number;
}

interface Hooks {
  name: string;
  restarts: number;
  /** Builds the loss for (targeted, true labels tensor). */
  makeLoss: (targeted: boolean, trueLabels: tf.Tensor1D) => LossFn;
  attackOnce: (a: AttackOnceArgs) => Promise<tf.Tensor4D>;
}

interface Best {
  x: tf.Tensor4D;
  success: boolean[];
  loss: Float32Array;
  prediction: Int32Array;
}

export abstract class GradientAttack implements Attack {
  abstract readonly name: string;
  readonly threat = 'white-box' as const;
  abstract readonly norm: Norm;
  abstract readonly params: Readonly<Record<string, unknown>>;
  abstract readonly facts: AttackFacts;

  /** Runs per eps (1: no restarts). */
  protected abstract restartCount(): number;
  /** The loss the attack ascends, untargeted or targeted (targeted DLR also needs the true labels). */
  protected abstract loss(targeted: boolean, trueLabels: tf.Tensor1D): LossFn;
  /** One run from one start on one subset: the chosen adversarial point of each example (the caller disposes). */
  protected abstract attackOnce(a: AttackOnceArgs): Promise<tf.Tensor4D>;

  /**
   * The final loop (subclasses do not override it). Restart r > 0 attacks only the examples not yet successful;
   * per example the result keeps a successful point over an unsuccessful one, then the higher final loss.
   * eps = 0 returns the (clipped) inputs unchanged.
   */
  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    return runHooks(
      { name: this.name, restarts: this.restartCount(), makeLoss: (t, l) => this.loss(t, l), attackOnce: (a) => this.attackOnce(a) },
      model,
      x,
      labels,
      epsilons,
      ctx,
    );
  }
}

/**
 * Projected steepest ascent (Foolbox's gradient-descent base): from the start (x0, or a uniform random point of
 * the eps-ball), `steps` steps of size `stepSize(eps)` along sign(grad) (L-inf) or grad/||grad||_2 (L2), each
 * projected onto the eps-ball and [0,1]. The final iterate is the run's result.
 */
export abstract class IteratedGradientAttack extends GradientAttack {
  protected abstract stepCount(): number;
  protected abstract stepSize(eps: number): number;
  protected abstract startsAtRandom(): boolean;

  protected async attackOnce({ model, x0, lossLabels, lossFn, eps, seed }: AttackOnceArgs): Promise<tf.Tensor4D> {
    const grad = requireGradient(model, this.name);
    const norm = this.norm;
    const steps = this.stepCount();
    const step = this.stepSize(eps);
    let xAdv = this.startsAtRandom() ? randomStart(norm, x0, eps, seed) : tf.clone(x0);
    for (let i = 0; i < steps; i++) {
      const next = tf.tidy(() => {
        const g = grad(xAdv, lossLabels, lossFn);
        return project(norm, tf.add(xAdv, tf.mul(steepestDirection(g.grad, norm), step)), x0, eps);
      });
      xAdv.dispose();
      xAdv = next;
      if (i % 10 === 9) await tf.nextFrame();
    }
    return xAdv;
  }
}

async function runHooks(
  opts: Hooks,
  model: Classifier,
  xIn: tf.Tensor4D,
  labels: Int32Array,
  epsilons: number[],
  ctx: AttackContext,
): Promise<AttackOutcome[]> {
  requireGradient(model, opts.name);
  checkBatch(opts.name, xIn, labels, epsilons, ctx);
  const n = labels.length;
  const x = tf.tidy(() => tf.clipByValue(xIn, 0, 1) as tf.Tensor4D);
  const labelsT = tf.tensor1d(labels, 'int32');
  const targetsT = ctx.targets ? tf.tensor1d(ctx.targets, 'int32') : undefined;
  const lossLabels = targetsT ?? labelsT;
  const lossFn = opts.makeLoss(Boolean(ctx.targets), labelsT);
  const outcomes: AttackOutcome[] = [];
  const totalUnits = epsilons.length * opts.restarts;
  let done = 0;
  try {
    const start = await lossAndPrediction(model, x, lossLabels, lossFn);
    const startSuccess = goalReached(start.prediction, labels, ctx.targets);
    for (let e = 0; e < epsilons.length; e++) {
      const eps = epsilons[e];
      let best: Best = {
        x: tf.clone(x),
        success: [...startSuccess],
        loss: Float32Array.from(start.loss),
        prediction: Int32Array.from(start.prediction),
      };
      if (eps > 0) {
        for (let r = 0; r < opts.restarts; r++) {
          const todo: number[] = [];
          for (let i = 0; i < n; i++) if (r === 0 || !best.success[i]) todo.push(i);
          if (todo.length > 0) best = await attackSubset(opts, model, x, labels, ctx, lossFn, best, todo, eps, e, r);
          done++;
          ctx.onProgress?.(done / totalUnits, `${opts.name} eps ${formatEps(eps)} restart ${r + 1}/${opts.restarts}`);
        }
      } else {
        done += opts.restarts;
        ctx.onProgress?.(done / totalUnits, `${opts.name} eps 0`);
      }
      outcomes.push({
        eps,
        adversarial: best.x,
        success: best.success,
        loss: Array.from(best.loss),
        adversarialPrediction: Array.from(best.prediction),
      });
    }
  } catch (err) {
    for (const o of outcomes) o.adversarial.dispose();
    throw err;
  } finally {
    x.dispose();
    labelsT.dispose();
    targetsT?.dispose();
  }
  return outcomes;
}

async function attackSubset(
  opts: Hooks,
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  ctx: AttackContext,
  lossFn: LossFn,
  best: Best,
  todo: number[],
  eps: number,
  epsIndex: number,
  restart: number,
): Promise<Best> {
  const all = todo.length === labels.length;
  const x0 = all ? tf.clone(x) : gatherRows(x, todo);
  const subLabels = all ? labels : Int32Array.from(todo, (i) => labels[i]);
  const subTargets = ctx.targets ? (all ? ctx.targets : Int32Array.from(todo, (i) => ctx.targets![i])) : undefined;
  const lossLabels = tf.tensor1d(subTargets ?? subLabels, 'int32');
  // Targeted DLR closes over the true labels of THIS subset.
  const trueSub = tf.tensor1d(subLabels, 'int32');
  const subLossFn = all ? lossFn : opts.makeLoss(Boolean(ctx.targets), trueSub);
  try {
    const adv = await opts.attackOnce({
      model,
      x0,
      lossLabels,
      lossFn: subLossFn,
      labels: subLabels,
      targets: subTargets,
      eps,
      seed: deriveSeed(ctx.seed, opts.name, epsIndex, restart),
      restart,
    });
    const cand = await lossAndPrediction(model, adv, lossLabels, subLossFn);
    const candSuccess = goalReached(cand.prediction, subLabels, subTargets);
    // Decide per example, then build the merged batch with one gather over [best; adv].
    const rowOf = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) rowOf[i] = i;
    const next: Best = { x: best.x, success: [...best.success], loss: Float32Array.from(best.loss), prediction: Int32Array.from(best.prediction) };
    todo.forEach((i, j) => {
      const better =
        (candSuccess[j] && !best.success[i]) ||
        (candSuccess[j] === best.success[i] && cand.loss[j] > best.loss[i]) ||
        restart === 0; // the first run's result replaces the clean starting point (attack semantics)
      if (better) {
        rowOf[i] = labels.length + j;
        next.success[i] = candSuccess[j];
        next.loss[i] = cand.loss[j];
        next.prediction[i] = cand.prediction[j];
      }
    });
    next.x = tf.tidy(() => gatherRows(tf.concat([best.x, adv]) as tf.Tensor4D, Array.from(rowOf)));
    best.x.dispose();
    adv.dispose();
    return next;
  } finally {
    x0.dispose();
    lossLabels.dispose();
    trueSub.dispose();
  }
}
