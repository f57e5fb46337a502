/**
 * APGD, auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020, Alg. 1), cross-checked against the public auto-attack autopgd_base.py.
 *
 * Threat model: white-box. Norm: L-inf or L2. Defaults: norm linf, 100 steps, 1 restart, rho 0.75, momentum 0.75,
 * initial step 2 eps, uniform random start; `apgd-ce` ascends the cross-entropy, `apgd-dlr` the DLR loss
 * (targeted: eq. 7). The step size is the attack's own (no stepSize parameter):
 * - initial step size eta = 2 eps (per example), momentum alpha = 0.75 (first step alpha = 1):
 *     z = P(x_k + eta * dir(grad)),  x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}));
 * - checkpoints w_j = ceil(p_j N) with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)
 *   (implemented, as in the reference code, as a countdown k starting at 0.22 N, shrinking by 0.03 N to a
 *   minimum of 0.06 N);
 * - at a checkpoint, eta is halved (and the iterate restarts from the best point, with its gradient) when
 *   (1) the loss increased in at most rho = 0.75 of the steps since the last checkpoint, or
 *   (2) eta was not reduced at the last checkpoint and the best loss did not improve since then;
 * - the result per example is a successful iterate if any was found, else the highest-loss iterate.
 *
 *   const attack = createAttack('apgd-dlr', { steps: 100 });  // opulab attack --attack apgd-dlr --eps 8/255
 *   const outcomes = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackFacts, Classifier, LossFn, Norm } from '../../src/types';
import { lossFor } from '../losses';
import { project, randomStart, steepestDirection, perExample } from '../projection';
import { goalReached } from '../batch';
import { gradientFacts, type AttackDefinition } from '../definition';
import { NORM_PARAM, ParamSchema, bool, int, num, oneOf, type ParsedParams, type RawParams } from '../params';
import { GradientAttack, predict, requireGradient, selectRows, type AttackOnceArgs } from './gradient-attack';

export const APGD_PARAMS = new ParamSchema('apgd', {
  norm: NORM_PARAM,
  loss: oneOf(['ce', 'dlr'], { default: 'ce', description: 'loss ascended: ce or dlr (fixed by apgd-ce / apgd-dlr)' }),
  steps: int({ default: 100, min: 1, description: 'iterations per run (N)' }),
  restarts: int({ default: 1, min: 1, description: 'runs per eps; a restart attacks only the examples not yet fooled' }),
  rho: num({ default: 0.75, min: 0, max: 1, minExclusive: true, maxExclusive: true, description: 'oscillation threshold of the step-size test (condition 1)' }),
  momentum: num({ default: 0.75, min: 0, max: 1, description: 'momentum alpha' }),
  initialStepFactor: num({ default: 2, min: 0, minExclusive: true, description: 'initial step size as a multiple of eps' }),
  randomStart: bool({ default: true, description: 'start at a uniform random point of the eps-ball' }),
});

/** apgd-ce and apgd-dlr: APGD's parameters without `loss` (each fixes its own). */
export const APGD_CE_PARAMS = APGD_PARAMS.renamed('apgd-ce', ['loss']);
export const APGD_DLR_PARAMS = APGD_PARAMS.renamed('apgd-dlr', ['loss']);

export type ApgdParams = ParsedParams<typeof APGD_PARAMS.specs>;

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

function apgdFacts(p: ApgdParams): AttackFacts {
  return gradientFacts({ norms: ['linf', 'l2'], steps: p.steps, loss: p.loss, ownStepSize: true });
}

export class Apgd extends GradientAttack {
  readonly name: string;
  readonly norm: Norm;
  readonly params: Readonly<ApgdParams>;
  readonly facts: AttackFacts;
  /** Step-size halvings of the last run (all examples, eps and restarts), for diagnostics. */
  lastHalvings = 0;

  constructor(params: RawParams = {}, name?: string) {
    super();
    this.params = parseApgdParams(params, name ?? 'apgd');
    this.name = name ?? `apgd-${this.params.loss}`;
    this.norm = this.params.norm;
    this.facts = apgdFacts(this.params);
  }

  override run(...args: Parameters<GradientAttack['run']>): ReturnType<GradientAttack['run']> {
    this.lastHalvings = 0;
    return super.run(...args);
  }

  protected restartCount(): number {
    return this.params.restarts;
  }

  protected loss(targeted: boolean, trueLabels: tf.Tensor1D): LossFn {
    return lossFor(this.params.loss, targeted, trueLabels);
  }

  protected async attackOnce(a: AttackOnceArgs): Promise<tf.Tensor4D> {
    const r = await apgdCore(this.params, a.model, a.x0, a.lossLabels, a.lossFn, a.labels, a.targets, a.eps, a.seed);
    this.lastHalvings += r.halvings;
    return r.x;
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

/** APGD's parameters; `fixedLoss` (apgd-ce, apgd-dlr) takes `loss` out of the user's hands. */
export function parseApgdParams(raw: RawParams, attack = 'apgd', fixedLoss?: 'ce' | 'dlr'): ApgdParams {
  if (!fixedLoss) return APGD_PARAMS.renamed(attack).parse(raw);
  const schema = attack === 'apgd-ce' ? APGD_CE_PARAMS : attack === 'apgd-dlr' ? APGD_DLR_PARAMS : APGD_PARAMS.renamed(attack, ['loss']);
  const p = schema.parse(raw) as Omit<ApgdParams, 'loss'>;
  return { norm: p.norm, loss: fixedLoss, steps: p.steps, restarts: p.restarts, rho: p.rho, momentum: p.momentum, initialStepFactor: p.initialStepFactor, randomStart: p.randomStart };
}

function apgdDefinition(name: 'apgd-ce' | 'apgd-dlr', loss: 'ce' | 'dlr', description: string): AttackDefinition {
  const schema = loss === 'ce' ? APGD_CE_PARAMS : APGD_DLR_PARAMS;
  return {
    name,
    description,
    params: schema,
    create: (params = {}) => new Apgd(parseApgdParams(params, name, loss), name),
    facts: (recorded) => apgdFacts({ ...APGD_PARAMS.read(recorded), loss }),
  };
}

export const APGD_CE = apgdDefinition('apgd-ce', 'ce', 'APGD with cross-entropy (Croce & Hein 2020)');
export const APGD_DLR = apgdDefinition('apgd-dlr', 'dlr', 'APGD with the DLR loss (Croce & Hein 2020)');
