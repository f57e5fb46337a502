/** What every attack checks of a batch before any work, and the goal test every attack uses. */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttackContext } from '../src/types';
import { UserError } from '../src/util/errors';

/** Untargeted: the prediction is not the label. Targeted: the prediction is the target. */
export function reachesGoal(prediction: number, label: number, target?: number): boolean {
  return target === undefined ? prediction !== label : prediction === target;
}

/** reachesGoal for every row of a batch. */
export function goalReached(prediction: ArrayLike<number>, labels: ArrayLike<number>, targets?: ArrayLike<number>): boolean[] {
  return Array.from(prediction, (p, i) => reachesGoal(p, labels[i], targets?.[i]));
}

/** One image per label (and per target), every eps finite and >= 0; else a one-line UserError naming the attack. */
export function checkBatch(name: string, x: tf.Tensor4D, labels: Int32Array, epsilons: readonly number[], ctx: AttackContext): void {
  if (x.shape[0] !== labels.length) throw new UserError(`${name}: batch of ${x.shape[0]} images but ${labels.length} labels`);
  if (ctx.targets && ctx.targets.length !== labels.length) {
    throw new UserError(`${name}: ${ctx.targets.length} targets for a batch of ${labels.length}`);
  }
  for (const eps of epsilons) {
    if (!Number.isFinite(eps) || eps < 0) throw new UserError(`${name}: bad eps '${eps}': expected a finite number >= 0`);
  }
}
