/**
 * PGD (Madry et al. 2018; Kurakin et al. 2017 without random start): `steps` steps of size `stepSize` along
 * sign(grad) (L-inf) or grad/||grad||_2 (L2), each projected onto the eps-ball ∩ [0,1]. Optional uniform
 * random start; restarts keep, per example, a successful point over an unsuccessful one, then the higher
 * loss. The final iterate of each run is its result (the standard definition).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, Norm } from '../../src/types';
import { lossFor, LOSS_NAMES, type LossName } from '../losses';
import { project, randomStart, steepestDirection } from '../projection';
import { requireGradient, runGradientAttack } from './common';
import { ParamReader, type RawParams } from './params';
import { UserError } from '../../src/util/errors';

export interface PgdParams {
  norm: Norm;
  steps: number;
  /** Absolute step size in pixel units; when absent the step is relStepSize * eps. */
  stepSize?: number;
  /** Step as a fraction of eps (default 2.5 / steps, Madry et al.); absent when stepSize is set. */
  relStepSize?: number;
  randomStart: boolean;
  restarts: number;
  loss: LossName;
}

export class Pgd implements Attack {
  readonly name = 'pgd';
  readonly threat = 'white-box' as const;
  readonly norm: Norm;
  readonly params: Readonly<PgdParams>;

  constructor(params: Partial<PgdParams> = {}) {
    this.params = parsePgdParams(params);
    this.norm = this.params.norm;
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    const p = this.params;
    return runGradientAttack(
      {
        name: this.name,
        restarts: p.restarts,
        makeLoss: (targeted, trueLabels) => lossFor(p.loss, targeted, trueLabels),
        core: async ({ model: m, x0, lossLabels, lossFn, eps, seed }) => {
          const grad = requireGradient(m, this.name);
          const step = p.stepSize ?? (p.relStepSize ?? 2.5 / p.steps) * eps;
          let xAdv = p.randomStart ? randomStart(p.norm, x0, eps, seed) : tf.clone(x0);
          for (let i = 0; i < p.steps; i++) {
            const next = tf.tidy(() => {
              const g = grad(xAdv, lossLabels, lossFn);
              return project(p.norm, tf.add(xAdv, tf.mul(steepestDirection(g.grad, p.norm), step)), x0, eps);
            });
            xAdv.dispose();
            xAdv = next;
            if (i % 10 === 9) await tf.nextFrame();
          }
          return xAdv;
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

export function parsePgdParams(raw: RawParams): PgdParams {
  const r = new ParamReader('pgd', raw, ['norm', 'steps', 'stepSize', 'relStepSize', 'randomStart', 'restarts', 'loss']);
  const steps = r.int('steps', 50, 1);
  if (r.has('stepSize') && r.has('relStepSize')) {
    throw new UserError(`pgd: give stepSize or relStepSize, not both (got ${String(raw.stepSize)} and ${String(raw.relStepSize)})`);
  }
  const out: PgdParams = {
    norm: r.norm(),
    steps,
    randomStart: r.bool('randomStart', true),
    restarts: r.int('restarts', 1, 1),
    loss: r.oneOf('loss', LOSS_NAMES, 'ce'),
  };
  if (r.has('stepSize')) out.stepSize = r.positive('stepSize', 0);
  else out.relStepSize = r.positive('relStepSize', 2.5 / steps);
  return out;
}
