/**
 * Transfer-strengthening iterative attacks (L-inf), built on the white-box driver (attacks/whitebox):
 *  - MI-FGSM (Dong et al., CVPR 2018): g <- mu g + grad / ||grad||_1, x <- Proj(x + alpha sign(g)),
 *    alpha = eps / steps; momentum stabilises the update direction and transfers better.
 *  - DI-FGSM (Xie et al., CVPR 2019): the gradient is taken at a random input-diversity transform of x
 *    (resize + pad, probability p, seeded); with momentum > 0 it is M-DI2-FGSM.
 * Both need the source model's gradient (Classifier.lossAndGradient) and use the cross-entropy loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, LossAndGradient, LossFn } from '../../src/types';
import { makeRng } from '../../src/util/rng';
import { UserError } from '../../src/util/errors';
import { lossFor } from '../losses';
import { projectLinf } from '../projection';
import { requireGradient, runGradientAttack } from '../whitebox/common';
import { checkKnownKeys, inRange, integer, positive, type RawParams } from '../blackbox/params';
import { applyMaps, applyMapsTransposed, drawDiversityMap, type PixelMap } from './input-diversity';

export interface MomentumFgsmParams {
  steps: number;
  /** Momentum decay mu (1.0 in MI-FGSM; 0 gives I-FGSM / DI2-FGSM). */
  decay: number;
  /** Step size as a fraction of eps per step (alpha = relStepSize * eps); default 1/steps. */
  relStepSize: number;
}

export interface DiversityParams extends MomentumFgsmParams {
  /** Probability of transforming the input at a step. */
  probability: number;
  /** Smallest resize factor. */
  resizeRate: number;
}

export function parseMiFgsmParams(raw: RawParams): MomentumFgsmParams {
  checkKnownKeys('mi-fgsm', raw, ['steps', 'decay', 'relStepSize', 'norm']);
  if (raw.norm !== undefined && raw.norm !== 'linf') throw new UserError(`bad mi-fgsm parameter norm=${String(raw.norm)}: expected linf`);
  const steps = integer('mi-fgsm', raw, 'steps', 10, 1);
  return {
    steps,
    decay: positive('mi-fgsm', raw, 'decay', 1, true),
    relStepSize: positive('mi-fgsm', raw, 'relStepSize', 1 / steps),
  };
}

export function parseDiFgsmParams(raw: RawParams): DiversityParams {
  checkKnownKeys('di-fgsm', raw, ['steps', 'decay', 'relStepSize', 'probability', 'resizeRate', 'norm']);
  if (raw.norm !== undefined && raw.norm !== 'linf') throw new UserError(`bad di-fgsm parameter norm=${String(raw.norm)}: expected linf`);
  const steps = integer('di-fgsm', raw, 'steps', 10, 1);
  return {
    steps,
    decay: positive('di-fgsm', raw, 'decay', 0, true),
    relStepSize: positive('di-fgsm', raw, 'relStepSize', 1 / steps),
    probability: inRange('di-fgsm', raw, 'probability', 0.5, 0, 1),
    resizeRate: inRange('di-fgsm', raw, 'resizeRate', 0.9, 0.1, 1),
  };
}

type GradientAt = (x: tf.Tensor4D, step: number) => tf.Tensor4D;

/** The shared momentum loop; `gradientAt` returns d loss / d x (possibly through a random transform). */
async function momentumLoop(x0: tf.Tensor4D, eps: number, p: MomentumFgsmParams, gradientAt: GradientAt): Promise<tf.Tensor4D> {
  const alpha = p.relStepSize * eps;
  let x = tf.clone(x0);
  let g = tf.zerosLike(x0);
  for (let t = 0; t < p.steps; t++) {
    const grad = gradientAt(x, t);
    const [nx, ng] = tf.tidy(() => {
      // grad / mean|grad| per example (the L1 normalisation; the mean only rescales it).
      const l1 = tf.reshape(tf.add(tf.mean(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1), 1e-12), [-1, 1, 1, 1]);
      const gNext = tf.add(tf.mul(g, p.decay), tf.div(grad, l1)) as tf.Tensor4D;
      const xNext = projectLinf(tf.add(x, tf.mul(tf.sign(gNext), alpha)) as tf.Tensor4D, x0, eps);
      return [xNext, gNext];
    });
    grad.dispose();
    x.dispose();
    g.dispose();
    x = nx;
    g = ng;
  }
  g.dispose();
  return x;
}

function plainGradient(model: Classifier, name: string, labels: tf.Tensor1D, loss: LossFn): GradientAt {
  const grad = requireGradient(model, name);
  return (x) => {
    const r: LossAndGradient = grad(x, labels, loss);
    r.loss.dispose();
    return r.grad;
  };
}

export class MiFgsm implements Attack {
  readonly name = 'mi-fgsm';
  readonly threat = 'white-box' as const;
  readonly norm = 'linf' as const;
  readonly params: Readonly<Record<string, unknown>>;
  private readonly p: MomentumFgsmParams;

  constructor(params: RawParams = {}) {
    this.p = parseMiFgsmParams(params);
    this.params = { ...this.p, loss: 'ce' };
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    return runGradientAttack(
      {
        name: this.name,
        restarts: 1,
        makeLoss: (targeted) => lossFor('ce', targeted),
        core: ({ model: m, x0, lossLabels, lossFn, eps }) => momentumLoop(x0, eps, this.p, plainGradient(m, this.name, lossLabels, lossFn)),
      },
      model,
      x,
      labels,
      epsilons,
      ctx,
    );
  }
}

export class DiFgsm implements Attack {
  readonly name = 'di-fgsm';
  readonly threat = 'white-box' as const;
  readonly norm = 'linf' as const;
  readonly params: Readonly<Record<string, unknown>>;
  private readonly p: DiversityParams;

  constructor(params: RawParams = {}) {
    this.p = parseDiFgsmParams(params);
    this.params = { ...this.p, loss: 'ce', transform: 'resize-pad' };
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    const p = this.p;
    return runGradientAttack(
      {
        name: this.name,
        restarts: 1,
        makeLoss: (targeted) => lossFor('ce', targeted),
        core: ({ model: m, x0, lossLabels, lossFn, eps, seed }) => {
          const grad = requireGradient(m, this.name);
          const [n, h, w, c] = x0.shape;
          const rng = makeRng(seed, 'input-diversity');
          const gradientAt: GradientAt = (xt) => {
            const maps: (PixelMap | null)[] = [];
            for (let i = 0; i < n; i++) maps.push(drawDiversityMap(rng, h, w, p.resizeRate, p.probability));
            const xd = tf.tensor4d(applyMaps(xt.dataSync() as Float32Array, maps, h * w, c), [n, h, w, c]);
            const r = grad(xd, lossLabels, lossFn);
            const g = applyMapsTransposed(r.grad.dataSync() as Float32Array, maps, h * w, c);
            xd.dispose();
            r.loss.dispose();
            r.grad.dispose();
            return tf.tensor4d(g, [n, h, w, c]);
          };
          return momentumLoop(x0, eps, p, gradientAt);
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
