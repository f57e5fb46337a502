/**
 * Random noise of the attack's norm and size: the control of Carlini et al., "On Evaluating Adversarial
 * Robustness", 2019 (the random-noise check of docs/method.md). If random noise at eps hurts as much as an attack
 * at eps, the attack is not doing its job.
 *
 * Threat model: none (no model access beyond scoring). Norm: L-inf (a uniformly random vertex of the eps-box,
 * ±eps per pixel) or L2 (a uniformly random direction scaled to eps). Defaults: norm linf. Clipped to [0,1];
 * seeded per call.
 *
 *   const control = createAttack('noise', { norm: 'l2' });  // opulab attack --attack noise --norm l2 --eps 0.5
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackFacts, AttackOutcome, Classifier, Norm } from '../src/types';
import { makeRng } from '../src/util/rng';
import { goalReached } from './batch';
import type { AttackDefinition } from './definition';
import { NORM_PARAM, ParamSchema, type RawParams } from './params';
import { normalizeL2 } from './projection';
import { predict } from './whitebox/gradient-attack';

export const NOISE_PARAMS = new ParamSchema('noise', { norm: NORM_PARAM });

const NOISE_FACTS: AttackFacts = { threat: 'noise', norms: ['linf', 'l2'], takesNorm: true, iterative: false, marginLoss: false, ownStepSize: false };

export class RandomNoise implements Attack {
  readonly name = 'noise';
  readonly threat = 'noise' as const;
  readonly params: Readonly<{ norm: Norm }>;
  readonly facts = NOISE_FACTS;

  constructor(readonly norm: Norm) {
    this.params = { norm };
  }

  async run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    const out: AttackOutcome[] = [];
    for (const [k, eps] of epsilons.entries()) {
      const rng = makeRng(ctx.seed, 'noise', k);
      const data = new Float32Array(x.size);
      if (this.norm === 'linf') for (let i = 0; i < data.length; i++) data[i] = rng.uniform() < 0.5 ? -1 : 1;
      else for (let i = 0; i < data.length; i++) data[i] = rng.normal();
      const adversarial = tf.tidy(() => {
        const d = tf.tensor4d(data, x.shape);
        const step = this.norm === 'linf' ? d : normalizeL2(d);
        return tf.clipByValue(tf.add(x, tf.mul(step, eps)), 0, 1) as tf.Tensor4D;
      });
      const pred = await predict(model, adversarial);
      out.push({ eps, adversarial, success: goalReached(pred, labels, ctx.targets), adversarialPrediction: Array.from(pred) });
    }
    return out;
  }
}

export function createNoiseAttack(params: RawParams = {}): Attack {
  return new RandomNoise(NOISE_PARAMS.parse(params).norm);
}

export const NOISE: AttackDefinition = {
  name: 'noise',
  description: 'random noise of the same norm and size (the random-noise control of Carlini et al. 2019)',
  params: NOISE_PARAMS,
  create: createNoiseAttack,
  facts: () => NOISE_FACTS,
};
