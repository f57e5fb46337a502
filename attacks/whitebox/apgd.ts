/**
 * APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", Alg. 1), cross-checked against the public auto-attack autopgd_base.py:
 * - initial step size eta = 2 eps (per example), momentum alpha = 0.75 (first step alpha = 1):
 *     z = P(x_k + eta * dir(grad)),  x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}));
 * - checkpoints w_j = ceil(p_j N) with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)
 *   (implemented, as in the reference code, as a countdown k starting at 0.22 N, shrinking by 0.03 N to a
 *   minimum of 0.06 N);
 * - at a checkpoint, eta is halved (and the iterate restarts from the best point, with its gradient) when
 *   (1) the loss increased in at most rho = 0.75 of the steps since the last checkpoint, or
 *   (2) eta was not reduced at the last checkpoint and the best loss did not improve since then;
 * - the result per example is a successful iterate if any was found, else the highest-loss iterate.
 * Untargeted and targeted (targeted DLR: eq. 7) with the CE or DLR loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, LossFn, Norm } from '../../src/types';
import { lossFor, type LossName } from '../losses';
import { project, randomStart, steepestDirection, perExample } from '../projection';
import { goalReached, predict, requireGradient, runGradientAttack, selectRows } from './common';
import { ParamReader, type RawParams } from './params';

export interface ApgdParams {
  norm: Norm;
  loss: LossName;
  steps: number;
  restarts: number;
  /** Oscillation threshold of condition (1). */
  rho: number;
  /** Momentum alpha. */
  momentum: number;
  /** Initial step size as a multiple of eps. */
  initialStepFactor: number;
  randomStart: boolean;
}

/** The checkpoint countdown constants of the reference code, for N iterations. */
export function apgdSchedule(steps: number): { first: number; decrease: number; minimum: number } {
  return {
    first: Math.max(Math.floor(0.22 * steps), 1),
    decrease: Math.max(Math.floor(0.03 * steps), 1),
    minimum: Math.max(Math.floor(0.06 * steps), 1),
  };
}

/** The checkpoint iterations w_j (for documentation and tests). */
export function apgdCheckpoints(steps: number): number[] {
  const s = apgdSchedule(steps);
  const out: number[] = [];
  let k = s.first;
  let at = 0;
  while (at + k <= steps) {
    at += k;
    out.push(at);
    k = Math.max(k - s.decrease, s.minimum);
  }
  return out;
}

/**
 * The step-size test at a checkpoint, per example. `history[t]` holds the per-example losses after t steps
 * (history[0] = at the start); the last `window` transitions are examined. Halve when
 * (1) the loss increased in at most rho * window of them, or
 * (2) the step was not reduced at the previous checkpoint and the best loss has not improved since.
 */
export function apgdHalvings(
  history: readonly ArrayLike<number>[],
  window: number,
  rho: number,
  reducedLastCheck: readonly boolean[],
  lossBestLastCheck: ArrayLike<number>,
  lossBest: ArrayLike<number>,
): boolean[] {
  const n = lossBest.length;
  const halve = new Array<boolean>(n).fill(false);
  for (let j = 0; j < n; j++) {
    let increases = 0;
    for (let t = history.length - window; t < history.length; t++) {
      if (history[t][j] > history[t - 1][j]) increases++;
    }
    const oscillating = increases <= window * rho;
    const stalled = !reducedLastCheck[j] && lossBestLastCheck[j] >= lossBest[j];
    halve[j] = oscillating || stalled;
  }
  return halve;
}

export class Apgd implements Attack {
  readonly name: string;
  readonly threat = 'white-box' as const;
  readonly norm: Norm;
  readonly params: Readonly<ApgdParams>;
  /** Step-size halvings of the last run (all examples, eps and restarts), for diagnostics. */
  lastHalvings = 0;

  constructor(params: Partial<ApgdParams> = {}, name?: string) {
    this.params = parseApgdParams(params, name ?? 'apgd');
    this.name = name ?? `apgd-${this.params.loss}`;
    this.norm = this.params.norm;
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    this.lastHalvings = 0;
    const p = this.params;
    return runGradientAttack(
      {
        name: this.name,
        restarts: p.restarts,
        makeLoss: (targeted, trueLabels) => lossFor(p.loss, targeted, trueLabels),
        core: async (a) => {
          const r = await apgdCore(p, a.model, a.x0, a.lossLabels, a.lossFn, a.labels, a.targets, a.eps, a.seed);
          this.lastHalvings += r.halvings;
          return r.x;
        },
      },
      model,
      x,
      labels,
      epsilons,
      ctx,
    );
  }
}

async function apgdCore(
  p: ApgdParams,
  model: Classifier,
  x0: tf.Tensor4D,
  lossLabels: tf.Tensor1D,
  lossFn: LossFn,
  labels: Int32Array,
  targets: Int32Array | undefined,
  eps: number,
  seed: number,
): Promise<{ x: tf.Tensor4D; halvings: number }> {
  const grad = requireGradient(model, 'apgd');
  const n = labels.length;
  const sched = apgdSchedule(p.steps);
  const swap = <T extends tf.Tensor>(old: T, next: T): T => {
    if (old !== next) old.dispose();
    return next;
  };

  let xAdv = p.randomStart ? randomStart(p.norm, x0, eps, seed) : tf.clone(x0);
  const first = grad(xAdv, lossLabels, lossFn);
  let g = first.grad;
  let lossCur = Float32Array.from(await first.loss.data());
  first.loss.dispose();

  let xOld = tf.clone(xAdv);
  let xBest = tf.clone(xAdv);
  let gBest = tf.clone(g);
  const lossBest = Float32Array.from(lossCur);
  const pred0 = await predict(model, xAdv);
  const succeeded = goalReached(pred0, labels, targets);
  let xBestAdv = tf.clone(xAdv);

  const stepSize = new Float32Array(n).fill(p.initialStepFactor * eps);
  // Loss history for condition (1): history[t] is the loss after t steps since the start.
  const history: Float32Array[] = [Float32Array.from(lossCur)];
  let countdown = sched.first;
  let sinceCheck = 0;
  let lossBestLastCheck = Float32Array.from(lossBest);
  let reducedLastCheck = new Array<boolean>(n).fill(true);
  let halvings = 0;

  try {
    for (let i = 0; i < p.steps; i++) {
      const alpha = i > 0 ? p.momentum : 1;
      const next = tf.tidy(() => {
        const eta = perExample(tf.tensor1d(stepSize));
        const z = project(p.norm, tf.add(xAdv, tf.mul(steepestDirection(g, p.norm), eta)), x0, eps);
        const moved = tf.add(
          tf.add(xAdv, tf.mul(tf.sub(z, xAdv), alpha)),
          tf.mul(tf.sub(xAdv, xOld), 1 - alpha),
        ) as tf.Tensor4D;
        return project(p.norm, moved, x0, eps);
      });
      xOld = swap(xOld, xAdv);
      xAdv = next;

      const lg = grad(xAdv, lossLabels, lossFn);
      g = swap(g, lg.grad);
      lossCur = Float32Array.from(await lg.loss.data());
      lg.loss.dispose();
      history.push(lossCur);

      const pred = await predict(model, xAdv);
      const reached = goalReached(pred, labels, targets);
      if (reached.some((v) => v)) {
        xBestAdv = swap(xBestAdv, selectRows(reached, xAdv, xBestAdv));
        reached.forEach((v, j) => {
          if (v) succeeded[j] = true;
        });
      }

      const improved = Array.from(lossCur, (l, j) => l > lossBest[j]);
      if (improved.some((v) => v)) {
        xBest = swap(xBest, selectRows(improved, xAdv, xBest));
        gBest = swap(gBest, selectRows(improved, g, gBest));
        improved.forEach((v, j) => {
          if (v) lossBest[j] = lossCur[j];
        });
      }

      sinceCheck++;
      if (sinceCheck === countdown) {
        const halve = apgdHalvings(history, countdown, p.rho, reducedLastCheck, lossBestLastCheck, lossBest);
        reducedLastCheck = halve;
        lossBestLastCheck = Float32Array.from(lossBest);
        if (halve.some((v) => v)) {
          halve.forEach((v, j) => {
            if (v) {
              stepSize[j] /= 2;
              halvings++;
            }
          });
          xAdv = swap(xAdv, selectRows(halve, xBest, xAdv));
          g = swap(g, selectRows(halve, gBest, g));
        }
        countdown = Math.max(countdown - sched.decrease, sched.minimum);
        sinceCheck = 0;
      }
    }
    const result = selectRows(succeeded, xBestAdv, xBest);
    return { x: result, halvings };
  } finally {
    for (const t of [xAdv, xOld, g, xBest, gBest, xBestAdv]) t.dispose();
  }
}

export function parseApgdParams(raw: RawParams, attack = 'apgd', fixedLoss?: LossName): ApgdParams {
  const allowed = ['norm', 'steps', 'restarts', 'rho', 'momentum', 'initialStepFactor', 'randomStart'];
  if (!fixedLoss) allowed.push('loss');
  const r = new ParamReader(attack, raw, allowed);
  return {
    norm: r.norm(),
    loss: fixedLoss ?? r.oneOf<LossName>('loss', ['ce', 'dlr'], 'ce'),
    steps: r.int('steps', 100, 1),
    restarts: r.int('restarts', 1, 1),
    rho: r.number('rho', 0.75, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    momentum: r.number('momentum', 0.75, (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    initialStepFactor: r.positive('initialStepFactor', 2),
    randomStart: r.bool('randomStart', true),
  };
}
