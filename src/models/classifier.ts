/**
 * The Classifier seam for a trained Network: eval-mode logits and the input gradient the model EXPOSES under
 * a chosen gradient path (advertorch-style BPDA: the surrogate lives on the model, not in each attack).
 *
 * Gradient modes (REFERENCE.md §4):
 *   natural            what the trained model exposes: the DFA synthetic path for dfa/hybrid models (Sign has zero
 *                      gradient, so only e·B at the feedback point reaches the input); true backprop for bp models
 *   true               exact backprop of the forward pass, no feedback points (Sign: its true zero gradient; OPU: the
 *                      true matrix). For DFA-trained heads without a Sign this is the strongest white-box gradient.
 *   bpda-random        straight-through Sign + the reference's separate random backward matrix for the OPU
 *   bpda-true          straight-through Sign + the true transmission matrix (oracle upper bound)
 *   bpda-estimated[:N] straight-through Sign + a matrix estimated from N OPU queries (system identification)
 *   bpda-none          straight-through Sign, zero gradient through the OPU
 * BPDA modes also replace a defense plugin's input transform by its surrogate backward (default: identity).
 * `signSurrogate` swaps the straight-through estimator for tanh(beta x) ("tanh:5") or the true zero gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Classifier, LossAndGradient, LossFn } from '../types';
import { UserError } from '../util/errors';
import { Network, GradientPath } from './network';
import { DfaSession } from './dfa';
import { modelId } from './config';
import { SignGradientMode } from '../optics/encoders';
import { OpuGradientMode } from '../optics/opu';

export const GRADIENT_MODES = ['natural', 'true', 'bpda-random', 'bpda-true', 'bpda-estimated', 'bpda-none'] as const;

export interface GradientModeSpec {
  /** Canonical text, recorded in results, e.g. "bpda-estimated:2000". */
  label: string;
  path: GradientPath;
  /** OPU queries for system identification (bpda-estimated). */
  estimateQueries?: number;
}

export function parseGradientMode(text: string, signSurrogate = 'ste'): GradientModeSpec {
  const [mode, arg] = text.split(':');
  let sign: SignGradientMode;
  let signBeta: number | undefined;
  const [s, b] = signSurrogate.split(':');
  if (s === 'ste' || s === 'zero') sign = s;
  else if (s === 'tanh') {
    sign = 'tanh';
    signBeta = b === undefined ? 1 : Number(b);
    if (!(signBeta > 0)) throw new UserError(`bad tanh surrogate slope '${b}': expected a positive number, e.g. tanh:5`);
  } else throw new UserError(`unknown sign surrogate '${signSurrogate}': expected ste, tanh[:beta] or zero`);
  const suffix = signSurrogate === 'ste' ? '' : `+sign-${signSurrogate}`;
  switch (mode) {
    case 'natural':
      return { label: 'natural', path: { dfa: true, sign: 'zero', opu: 'none' } };
    case 'true':
      return { label: 'true', path: { dfa: false, sign: 'zero', opu: 'true' } };
    case 'bpda-random':
    case 'bpda-true':
    case 'bpda-none': {
      const opu = mode.slice(5) as OpuGradientMode;
      return { label: mode + suffix, path: { dfa: false, sign, signBeta, opu, inputTransform: 'surrogate' } };
    }
    case 'bpda-estimated': {
      const n = arg === undefined ? 4000 : Number(arg);
      if (!Number.isInteger(n) || n <= 0) throw new UserError(`bad query count '${arg}' in '${text}': expected bpda-estimated:N with N a positive integer`);
      return { label: `bpda-estimated:${n}${suffix}`, path: { dfa: false, sign, signBeta, opu: 'estimated', inputTransform: 'surrogate' }, estimateQueries: n };
    }
    default:
      throw new UserError(`unknown gradient mode '${text}': expected one of natural, true, bpda-random, bpda-true, bpda-estimated[:N], bpda-none`);
  }
}

export class NetworkClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape = [32, 32, 3] as const;
  readonly normalizationStd: readonly number[];
  readonly gradientMode: string;
  private readonly path: GradientPath;

  constructor(readonly net: Network, mode: GradientModeSpec, id?: string) {
    this.id = id ?? modelId(net.config);
    this.numClasses = net.config.numClasses;
    this.normalizationStd = net.config.normalization.std;
    // A bp-trained model has no feedback points: its natural gradient is plain backprop.
    const natural = mode.label === 'natural';
    this.path = natural && !net.feedback ? { dfa: false, sign: 'zero', opu: 'true' } : mode.path;
    this.gradientMode = net.config.defense === 'none' && net.config.training === 'bp' ? 'true' : mode.label;
  }

  get stochastic(): boolean {
    return this.net.stochastic;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return this.net.predictLogits(x);
  }

  lossAndGradient(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient {
    const session = this.path.dfa ? new DfaSession(this.net.feedback!) : undefined;
    let perExample: tf.Tensor1D | null = null;
    try {
      const grad = tf.tidy(() =>
        tf.grad((xx: tf.Tensor) => {
          const logits = this.net.forward(xx as tf.Tensor4D, { training: false, gradient: this.path, dfaSession: session });
          const l = loss(logits, labels);
          perExample = tf.keep(tf.clone(l));
          return tf.sum(l);
        })(x),
      ) as tf.Tensor4D;
      // The per-example loss escaped the gradient scope with tf.keep; hand back a clone tracked by the caller's
      // scope (so a caller's tf.tidy disposes it) and release the kept one.
      const kept = perExample as unknown as tf.Tensor1D;
      const lossValues = tf.clone(kept);
      kept.dispose();
      return { loss: lossValues, grad };
    } finally {
      session?.dispose();
    }
  }
}

/**
 * A classifier for a network under a gradient mode. For bpda-estimated the OPU's matrix is first estimated from
 * `estimateQueries` input/output pairs (seeded), as an attacker without access to the hardware internals would.
 */
export function classifierFor(net: Network, gradientMode = 'natural', signSurrogate = 'ste', seed = 0): NetworkClassifier {
  const spec = parseGradientMode(gradientMode, signSurrogate);
  if (spec.estimateQueries !== undefined) {
    if (!net.opu) throw new UserError(`gradient mode '${gradientMode}' needs a model with an OPU; '${modelId(net.config)}' has none`);
    net.opu.estimateFromQueries(spec.estimateQueries, seed);
  }
  return new NetworkClassifier(net, spec);
}
