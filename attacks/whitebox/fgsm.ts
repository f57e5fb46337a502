/**
 * FGSM (Goodfellow et al. 2015): one step of size eps along the steepest-ascent direction of the loss,
 * sign(grad) for L-inf; for L2 the fast gradient method step eps * grad / ||grad||_2. Clipped to [0,1].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, Norm } from '../../src/types';
import { lossFor, LOSS_NAMES, type LossName } from '../losses';
import { project, steepestDirection } from '../projection';
import { requireGradient, runGradientAttack } from './common';
import { ParamReader, type RawParams } from './params';

export interface FgsmParams {
  norm: Norm;
  loss: LossName;
}

export class Fgsm implements Attack {
  readonly name = 'fgsm';
  readonly threat = 'white-box' as const;
  readonly norm: Norm;
  readonly params: Readonly<FgsmParams>;

  constructor(params: Partial<FgsmParams> = {}) {
    this.params = parseFgsmParams(params);
    this.norm = this.params.norm;
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    const { norm, loss } = this.params;
    return runGradientAttack(
      {
        name: this.name,
        restarts: 1,
        makeLoss: (targeted, trueLabels) => lossFor(loss, targeted, trueLabels),
        core: async ({ model: m, x0, lossLabels, lossFn, eps }) => {
          const grad = requireGradient(m, this.name);
          return tf.tidy(() => {
            const g = grad(x0, lossLabels, lossFn);
            return project(norm, tf.add(x0, tf.mul(steepestDirection(g.grad, norm), eps)), x0, eps);
          });
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

export function parseFgsmParams(raw: RawParams): FgsmParams {
  const r = new ParamReader('fgsm', raw, ['norm', 'loss']);
  return { norm: r.norm(), loss: r.oneOf('loss', LOSS_NAMES, 'ce') };
}
