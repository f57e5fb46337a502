/**
 * FGSM, the fast gradient sign method (Goodfellow, Shlens, Szegedy, "Explaining and Harnessing Adversarial
 * Examples", ICLR 2015), and its L2 form, the fast gradient method.
 *
 * Threat model: white-box (the model's exposed input gradient). Norm: L-inf (one step eps * sign(grad)) or L2 (one
 * step eps * grad / ||grad||_2), clipped to [0,1]. Defaults: norm linf, loss ce. One gradient step: the
 * projected-ascent loop of IteratedGradientAttack with one step of size eps from the clean input.
 *
 *   const attack = new Fgsm({ norm: 'linf' });  // opulab attack --attack fgsm --eps 8/255
 *   const [outcome] = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttackFacts, LossFn, Norm } from '../../src/types';
import { lossFor, LOSS_NAMES, type LossName } from '../losses';
import { gradientFacts, type AttackDefinition } from '../definition';
import { NORM_PARAM, ParamSchema, oneOf, type ParsedParams, type RawParams } from '../params';
import { IteratedGradientAttack } from './gradient-attack';

export const FGSM_PARAMS = new ParamSchema('fgsm', {
  norm: NORM_PARAM,
  loss: oneOf(LOSS_NAMES, { default: 'ce', description: 'loss ascended: ce (cross-entropy), dlr, cw (CW margin)' }),
});

export type FgsmParams = ParsedParams<typeof FGSM_PARAMS.specs>;

function fgsmFacts(p: FgsmParams): AttackFacts {
  return gradientFacts({ norms: ['linf', 'l2'], steps: 1, loss: p.loss });
}

export class Fgsm extends IteratedGradientAttack {
  readonly name = 'fgsm';
  readonly norm: Norm;
  readonly params: Readonly<FgsmParams>;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    super();
    this.params = FGSM_PARAMS.parse(params);
    this.norm = this.params.norm;
    this.facts = fgsmFacts(this.params);
  }

  protected restartCount(): number {
    return 1;
  }

  protected loss(targeted: boolean, trueLabels: tf.Tensor1D): LossFn {
    return lossFor(this.params.loss as LossName, targeted, trueLabels);
  }

  protected stepCount(): number {
    return 1;
  }

  protected stepSize(eps: number): number {
    return eps;
  }

  protected startsAtRandom(): boolean {
    return false;
  }
}

export const FGSM: AttackDefinition = {
  name: 'fgsm',
  description: 'FGSM / fast gradient method, one step (Goodfellow et al. 2015)',
  params: FGSM_PARAMS,
  create: (params = {}) => new Fgsm(params),
  facts: (recorded) => fgsmFacts(FGSM_PARAMS.read(recorded)),
};
