/**
 * PGD, projected gradient descent (Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models
 * Resistant to Adversarial Attacks", ICLR 2018; without random start the BIM of Kurakin et al. 2017).
 *
 * Threat model: white-box. Norm: L-inf (steps along sign(grad)) or L2 (along grad / ||grad||_2), each step
 * projected onto the eps-ball and [0,1]. Defaults: norm linf, 50 steps of 2.5 eps / steps, uniform random start,
 * 1 restart, loss ce. Restarts keep, per example, a successful point over an unsuccessful one, then the higher
 * loss; the final iterate of each run is its result (the standard definition).
 *
 *   const attack = new Pgd({ steps: 50, restarts: 2 });  // opulab attack --attack pgd --steps 50 --restarts 2
 *   const outcomes = await attack.run(model, x, labels, [4 / 255, 8 / 255], { seed: 0 });
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttackFacts, LossFn, Norm } from '../../src/types';
import { lossFor, LOSS_NAMES } from '../losses';
import { gradientFacts, type AttackDefinition } from '../definition';
import { NORM_PARAM, ParamSchema, bool, int, num, oneOf, type ParsedParams, type RawParams } from '../params';
import { IteratedGradientAttack } from './gradient-attack';

export const PGD_PARAMS = new ParamSchema(
  'pgd',
  {
    norm: NORM_PARAM,
    steps: int({ default: 50, min: 1, description: 'gradient steps per run' }),
    randomStart: bool({ default: true, description: 'start at a uniform random point of the eps-ball' }),
    restarts: int({ default: 1, min: 1, description: 'runs per eps; a restart attacks only the examples not yet fooled' }),
    loss: oneOf(LOSS_NAMES, { default: 'ce', description: 'loss ascended: ce (cross-entropy), dlr, cw (CW margin)' }),
    stepSize: num({ min: 0, minExclusive: true, description: 'absolute step in the units of eps (converted to pixels with it); excludes relStepSize' }),
    relStepSize: num({ min: 0, minExclusive: true, defaultText: '2.5 / steps', description: 'step as a fraction of eps (Madry et al.); used when stepSize is absent' }),
  },
  [(p, raw) => (p.stepSize !== undefined && p.relStepSize !== undefined ? `give stepSize or relStepSize, not both (got ${String(raw.stepSize)} and ${String(raw.relStepSize)})` : undefined)],
);

export type PgdParams = ParsedParams<typeof PGD_PARAMS.specs>;

/** The parameters with relStepSize resolved to its default when no absolute stepSize is given. */
function resolved(p: PgdParams): PgdParams {
  if (p.stepSize === undefined && p.relStepSize === undefined) p.relStepSize = 2.5 / p.steps;
  return p;
}

function pgdFacts(p: PgdParams): AttackFacts {
  return gradientFacts({ norms: ['linf', 'l2'], steps: p.steps, loss: p.loss });
}

export class Pgd extends IteratedGradientAttack {
  readonly name = 'pgd';
  readonly norm: Norm;
  readonly params: Readonly<PgdParams>;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    super();
    this.params = resolved(PGD_PARAMS.parse(params));
    this.norm = this.params.norm;
    this.facts = pgdFacts(this.params);
  }

  protected restartCount(): number {
    return this.params.restarts;
  }

  protected loss(targeted: boolean, trueLabels: tf.Tensor1D): LossFn {
    return lossFor(this.params.loss, targeted, trueLabels);
  }

  protected stepCount(): number {
    return this.params.steps;
  }

  protected stepSize(eps: number): number {
    const p = this.params;
    return p.stepSize ?? (p.relStepSize ?? 2.5 / p.steps) * eps;
  }

  protected startsAtRandom(): boolean {
    return this.params.randomStart;
  }
}

export const PGD: AttackDefinition = {
  name: 'pgd',
  description: 'PGD with optional random start and restarts (Madry et al. 2018)',
  params: PGD_PARAMS,
  create: (params = {}) => new Pgd(params),
  facts: (recorded) => pgdFacts(PGD_PARAMS.read(recorded)),
};
