/**
 * The seams that keep models, defenses and attacks independent (docs/architecture.md §2).
 *
 * Conventions: images are NHWC float32 in PIXEL space [0, 1]; any normalization happens inside the
 * classifier. Labels are int32. Every method that returns tensors hands ownership to the caller.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Norm = 'linf' | 'l2';
export type EpsSpace = 'pixel' | 'normalized';
export type ThreatModel = 'white-box' | 'black-box-score' | 'decision' | 'transfer' | 'noise';

/** Per-example loss computed from logits: [batch, classes] -> [batch]. */
export type LossFn = (logits: tf.Tensor2D, labels: tf.Tensor1D) => tf.Tensor1D;

export interface LossAndGradient {
  /** Per-example loss, [batch]. */
  loss: tf.Tensor1D;
  /** Gradient of sum(loss) w.r.t. the input, same shape as the input. */
  grad: tf.Tensor4D;
}

/**
 * What an attack sees of a model. `logits` is a forward pass (eval mode; stochastic defenses draw fresh
 * noise each call). `lossAndGradient` returns the gradient the model EXPOSES to an attacker: the true
 * gradient, a BPDA surrogate, or a synthetic (DFA) one — the surrogate lives on the model, not in attacks.
 */
export interface Classifier {
  readonly id: string;
  readonly numClasses: number;
  /** [height, width, channels] */
  readonly inputShape: readonly [number, number, number];
  /** True when two forward passes on the same input can differ (camera noise, random input transforms). */
  readonly stochastic: boolean;
  /** Per-channel std of the model's input normalization, to convert normalized-space eps to pixels. */
  readonly normalizationStd: readonly number[];
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Optional fast path of `logits` on plain arrays: `rows` NHWC images in [0,1] -> flat [rows, numClasses]
   * logits, the same numbers as `logits`. Engines that run outside tfjs offer it, so score-based attacks
   * (attacks/query-counter.ts) skip the tensor round trip per query.
   */
  logitsArray?(pixels: Float32Array, rows: number): Float32Array;
  /**
   * What `logits` returns: logits (also when absent) or probabilities, for an imported model that ends in a
   * softmax. Runs on such a model record `lossInput: 'probabilities'`, which check C12 flags.
   */
  readonly output?: 'logits' | 'probabilities';
  /** Absent when the model exposes no gradient (black-box only). */
  lossAndGradient?(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn): LossAndGradient;
  /**
   * Optional fast path of EOT (attacks/eot.ts): the mean per-example loss and the mean input gradient over
   * `samples` independent stochastic passes, the same numbers (up to float rounding) as averaging `samples` calls
   * of `lossAndGradient`, which draw the same noise. An engine whose randomness enters late (ONNX Runtime: camera
   * noise, after the features and the OPU's field) computes the deterministic part once.
   */
  expectedLossAndGradient?(x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn, samples: number): LossAndGradient;
  /** A short description of the gradient path, recorded in results (e.g. "bpda-random"). */
  readonly gradientMode?: string;
}

/** Per-epsilon outcome of one attack call on one batch. */
export interface AttackOutcome {
  /** Epsilon in pixel units. */
  eps: number;
  /** Adversarial inputs in pixel space, clipped to [0,1]; caller disposes. */
  adversarial: tf.Tensor4D;
  /** Per example: did the attack reach its goal (misclassified, or hit the target). */
  success: boolean[];
  /** Per example: final attack loss (when the attack has one). */
  loss?: number[];
  /** Per example: model queries spent (black-box attacks). */
  queries?: number[];
  /** Per example: prediction on the adversarial input. */
  adversarialPrediction?: number[];
}

export interface AttackContext {
  /** Seed for every random choice of the attack. */
  seed: number;
  /** Targeted attack labels (one per example); untargeted when absent. */
  targets?: Int32Array;
  /** Called with a fraction in [0, 1] as work proceeds. */
  onProgress?: (fraction: number, message?: string) => void;
}

/**
 * What an attack declares about itself for the layers above it (the experiment runner, results, the report's
 * checks), so that no layer has to recognise attacks by name. Recorded in every run of results.json.
 */
export interface AttackFacts {
  threat: ThreatModel;
  /** The norms the attack can run in. */
  norms: readonly Norm[];
  /** The norm is chosen by a `norm` parameter (else the attack runs in its one norm and takes none). */
  takesNorm: boolean;
  /** Takes more than one gradient step or query round (PGD, APGD, black-box attacks; not FGSM or noise). */
  iterative: boolean;
  /** Gradient steps per run (white-box attacks). */
  steps?: number;
  /** Per-example query budget, the clean query included (black-box attacks). */
  queryBudget?: number;
  /** The loss the attack optimises ('ce', 'dlr', 'cw', 'margin'). */
  loss?: string;
  /** A margin-type loss (DLR, CW, the logit margin): an adaptive attack in the sense of Carlini et al. 2019. */
  marginLoss: boolean;
  /** Chooses its own step sizes (APGD): has no step-size parameter to record. */
  ownStepSize: boolean;
}

/** An attack (torchattacks-like: one object per configured attack; Foolbox-like: a list of epsilons per call). */
export interface Attack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly norm: Norm;
  /** Hyperparameters, recorded verbatim in results (C15). */
  readonly params: Readonly<Record<string, unknown>>;
  /** What the attack declares about itself (built-in attacks always do; a plugin's may not). */
  readonly facts?: AttackFacts;
  run(
    model: Classifier,
    x: tf.Tensor4D,
    labels: Int32Array,
    epsilons: number[],
    ctx: AttackContext,
  ): Promise<AttackOutcome[]>;
}
