/**
 * Random noise of the attack's norm and size: the control of Carlini et al. 2019 (check C16). If random noise at
 * eps hurts as much as an attack at eps, the attack is not doing its job. L-inf: a uniformly random vertex of the
 * eps-box (±eps per pixel); L2: a uniformly random direction scaled to eps. Clipped to [0,1]; seeded per call.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, Norm } from '../src/types';
import { makeRng } from '../src/util/rng';
import { UserError } from '../src/util/errors';
import { predict, goalReached } from './whitebox/common';
import { normalizeL2 } from './projection';

export class RandomNoise implements Attack {
  readonly name = 'noise';
  readonly threat = 'noise' as const;
  readonly params: Readonly<{ norm: Norm }>;

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

export function createNoiseAttack(params: Readonly<Record<string, unknown>> = {}): Attack {
  for (const k of Object.keys(params)) if (k !== 'norm') throw new UserError(`unknown parameter '${k}' for attack 'noise': expected norm`);
  const norm = params.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new UserError(`bad noise parameter norm=${String(norm)}: expected linf or l2`);
  return new RandomNoise(norm);
}
