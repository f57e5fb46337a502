/**
 * Transfer-strengthening iterative attacks, built on the gradient-attack base (attacks/whitebox/gradient-attack.ts):
 *  - MI-FGSM (Dong, Liao, Pang, Su, Zhu, Hu, Li, "Boosting Adversarial Attacks with Momentum", CVPR 2018):
 *    g <- mu g + grad / ||grad||_1, x <- Proj(x + alpha sign(g)), alpha = eps / steps; momentum stabilises the
 *    update direction and transfers better.
 *  - DI-FGSM (Xie, Zhang, Zhou, Bai, Wang, Ren, Yuille, "Improving Transferability of Adversarial Examples with
 *    Input Diversity", CVPR 2019): the gradient is taken at a random input-diversity transform of x (resize + pad,
 *    probability p, seeded); with momentum > 0 it is M-DI2-FGSM.
 *
 * Threat model: white-box on the SOURCE model (the set is then evaluated on targets, attacks/transfer/evaluate.ts).
 * Norm: L-inf only (no norm parameter). Loss: cross-entropy. Defaults: 10 steps of eps / steps; MI-FGSM decay 1;
 * DI-FGSM decay 0, probability 0.5, resizeRate 0.9.
 *
 *   const attack = createTransferAttack('mi-fgsm', { steps: 10 });  // opulab transfer --attack mi-fgsm --source CKPT --targets CKPT2
 *   const outcomes = await attack.run(sourceModel, x, labels, [8 / 255], { seed: 0 });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackFacts, Classifier, LossAndGradient, LossFn } from '../../src/types';
import { makeRng } from '../../src/util/rng';
import { lossFor } from '../losses';
import { projectLinf } from '../projection';
import { gradientFacts, type AttackDefinition } from '../definition';
import { ParamSchema, int, num, oneOf, type ParsedParams, type RawParams } from '../params';
import { GradientAttack, requireGradient, type AttackOnceArgs } from '../whitebox/gradient-attack';
import { applyMaps, applyMapsTransposed, drawDiversityMap, type PixelMap } from './input-diversity';

const LINF_ONLY = oneOf(['linf'], { default: 'linf', description: 'threat norm (L-inf only; accepted for uniform specs, not recorded)' });
const steps = int({ default: 10, min: 1, description: 'iterations' });
const relStepSize = num({ min: 0, minExclusive: true, defaultText: '1 / steps', description: 'step alpha as a fraction of eps' });

export const MI_FGSM_PARAMS = new ParamSchema('mi-fgsm', {
  steps,
  decay: num({ default: 1, min: 0, description: 'momentum decay mu (0 gives I-FGSM)' }),
  relStepSize,
  norm: LINF_ONLY,
});

export const DI_FGSM_PARAMS = new ParamSchema('di-fgsm', {
  steps,
  decay: num({ default: 0, min: 0, description: 'momentum decay mu (> 0 gives M-DI2-FGSM)' }),
  relStepSize,
  probability: num({ default: 0.5, min: 0, max: 1, description: 'probability of transforming the input at a step' }),
  resizeRate: num({ default: 0.9, min: 0.1, max: 1, description: 'smallest resize factor of the transform' }),
  norm: LINF_ONLY,
});

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
  const p: ParsedParams<typeof MI_FGSM_PARAMS.specs> = MI_FGSM_PARAMS.parse(raw);
  return { steps: p.steps, decay: p.decay, relStepSize: p.relStepSize ?? 1 / p.steps };
}

export function parseDiFgsmParams(raw: RawParams): DiversityParams {
  const p: ParsedParams<typeof DI_FGSM_PARAMS.specs> = DI_FGSM_PARAMS.parse(raw);
  return { steps: p.steps, decay: p.decay, relStepSize: p.relStepSize ?? 1 / p.steps, probability: p.probability, resizeRate: p.resizeRate };
}

function momentumFacts(p: { steps: number }): AttackFacts {
  return gradientFacts({ norms: ['linf'], steps: p.steps, loss: 'ce' });
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

export class MiFgsm extends GradientAttack {
  readonly name = 'mi-fgsm';
  readonly norm = 'linf' as const;
  readonly params: Readonly<Record<string, unknown>>;
  readonly facts: AttackFacts;
  private readonly p: MomentumFgsmParams;

  constructor(params: RawParams = {}) {
    super();
    this.p = parseMiFgsmParams(params);
    this.params = { ...this.p, loss: 'ce' };
    this.facts = momentumFacts(this.p);
  }

  protected restartCount(): number {
    return 1;
  }

  protected loss(targeted: boolean): LossFn {
    return lossFor('ce', targeted);
  }

  protected attackOnce({ model, x0, lossLabels, lossFn, eps }: AttackOnceArgs): Promise<tf.Tensor4D> {
    return momentumLoop(x0, eps, this.p, plainGradient(model, this.name, lossLabels, lossFn));
  }
}

export class DiFgsm extends GradientAttack {
  readonly name = 'di-fgsm';
  readonly norm = 'linf' as const;
  readonly params: Readonly<Record<string, unknown>>;
  readonly facts: AttackFacts;
  private readonly p: DiversityParams;

  constructor(params: RawParams = {}) {
    super();
    this.p = parseDiFgsmParams(params);
    this.params = { ...this.p, loss: 'ce', transform: 'resize-pad' };
    this.facts = momentumFacts(this.p);
  }

  protected restartCount(): number {
    return 1;
  }

  protected loss(targeted: boolean): LossFn {
    return lossFor('ce', targeted);
  }

  protected attackOnce({ model, x0, lossLabels, lossFn, eps, seed }: AttackOnceArgs): Promise<tf.Tensor4D> {
    const p = this.p;
    const grad = requireGradient(model, this.name);
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
  }
}

export const MI_FGSM: AttackDefinition = {
  name: 'mi-fgsm',
  description: 'momentum iterative FGSM, L-inf (Dong et al. 2018)',
  params: MI_FGSM_PARAMS,
  create: (params = {}) => new MiFgsm(params),
  facts: (recorded) => momentumFacts(MI_FGSM_PARAMS.read(recorded)),
};

export const DI_FGSM: AttackDefinition = {
  name: 'di-fgsm',
  description: 'input-diversity iterative FGSM, L-inf (Xie et al. 2019)',
  params: DI_FGSM_PARAMS,
  create: (params = {}) => new DiFgsm(params),
  facts: (recorded) => momentumFacts(DI_FGSM_PARAMS.read(recorded)),
};
