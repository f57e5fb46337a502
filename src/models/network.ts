/**
 * A complete classifier: input normalization -> VGG features -> head (baseline, optical, or an ablation).
 *
 * Heads (REFERENCE.md §1):
 *   baseline: Dropout -> Dense(F->opuIn) -> ReLU -> Dropout -> Dense(opuIn->512) -> ReLU -> Dense(512->classes)
 *   optical:  Dropout -> Dense(F->opuIn) -> ReLU -> [DFA feedback point] -> Sign(x - mean) -> OPU(opuIn->opuOut)
 *             -> ReLU -> Dense(opuOut->classes)
 *   ablations drop the Sign and/or the OPU (REFERENCE.md §4).
 *
 * How the backward pass behaves is chosen per call by a GradientPath, so the same trained weights serve
 * training (DFA), the gradient the model "naturally" exposes, and every BPDA surrogate an attacker may try.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng } from '../util/rng';
import { ModelConfig, usesBinarization, usesOpu } from './config';
import { DfaSession, FeedbackMatrix } from './dfa';
import { Dense, dropout, ForwardContext } from './layers';
import { ParamStore } from './params';
import { VggFeatures } from './vgg';
import { binarizeSign, SignGradientMode } from '../optics/encoders';
import { OpticalProcessingUnit, OpuGradientMode } from '../optics/opu';

/**
 * The backward behaviour of one forward pass.
 * - dfa: feedback points of the model's training method are active (hybrid: one at the head; dfa: after every
 *   conv block and hidden dense), and the Sign/OPU get `sign`/`opu` (irrelevant below a feedback point).
 * - bp: no feedback points; true backprop everywhere, with the given surrogates for the Sign and the OPU.
 */
export interface GradientPath {
  dfa: boolean;
  sign: SignGradientMode;
  signBeta?: number;
  opu: OpuGradientMode;
}

export const TRAINING_GRADIENT_PATHS: Record<string, GradientPath> = {
  /** hybrid/dfa training: the synthetic path. */
  dfa: { dfa: true, sign: 'zero', opu: 'none' },
  /** bp training of an optical head: a simulation-only oracle (straight-through sign, true matrix). */
  bpOracle: { dfa: false, sign: 'ste', opu: 'true' },
};

export interface ForwardOptions extends ForwardContext {
  gradient: GradientPath;
  /** Required when gradient.dfa is true: the session shared by the logits tap and the feedback points. */
  dfaSession?: DfaSession;
  /** Observe intermediate activations (feature probe); called with a stage name and its output. */
  observe?: (name: string, x: tf.Tensor) => void;
}

export class Network {
  readonly store = new ParamStore();
  readonly features: VggFeatures;
  readonly opu: OpticalProcessingUnit | null;
  readonly feedback: FeedbackMatrix | null;
  private readonly dense1: Dense;
  private readonly dense2: Dense | null;
  private readonly dense3: Dense;
  private readonly normMean: tf.Tensor1D;
  private readonly normStd: tf.Tensor1D;

  constructor(readonly config: ModelConfig) {
    const rng = makeRng(config.seed, 'init');
    const depth = Number(config.architecture.replace('vgg', '')) as 11 | 13 | 16;
    this.features = new VggFeatures(this.store, depth, config.width, rng);
    const f = this.features.outFeatures;
    this.dense1 = new Dense(this.store, 'head/dense1', f, config.opuIn, rng);
    if (config.defense === 'none') {
      this.dense2 = new Dense(this.store, 'head/dense2', config.opuIn, 512, rng);
      this.dense3 = new Dense(this.store, 'head/dense3', 512, config.numClasses, rng);
      this.opu = null;
    } else {
      this.dense2 = null;
      this.opu = usesOpu(config.defense)
        ? new OpticalProcessingUnit({
            inFeatures: config.opuIn,
            outFeatures: config.opuOut,
            mode: config.opuMode,
            seed: makeRng(config.seed, 'opu').nextSeed(),
            camera: config.camera,
          })
        : null;
      const above = this.opu ? config.opuOut : config.opuIn;
      this.dense3 = new Dense(this.store, 'head/out', above, config.numClasses, rng);
    }
    this.feedback = config.training === 'bp' ? null : new FeedbackMatrix(config.numClasses, this.feedbackSize(), makeRng(config.seed, 'feedback').nextSeed());
    this.normMean = tf.keep(tf.tensor1d(config.normalization.mean));
    this.normStd = tf.keep(tf.tensor1d(config.normalization.std));
  }

  /** Size of B: per-layer DFA needs the largest conv activation (the first block, 32x32xC1); hybrid the head's. */
  private feedbackSize(): number {
    const head = Math.max(this.config.opuIn, this.config.defense === 'none' ? 512 : 0);
    if (this.config.training !== 'dfa') return head;
    return Math.max(head, 32 * 32 * this.features.convs[0].outChannels);
  }

  get stochastic(): boolean {
    return this.opu?.stochastic ?? false;
  }

  trainableVariables(): tf.Variable[] {
    return this.store.trainable();
  }

  /** Pixel-space NHWC input in [0,1] -> logits. */
  forward(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const { gradient } = opts;
    if (gradient.dfa && !opts.dfaSession) throw new Error('a DFA gradient path needs a DfaSession');
    const dfaEverywhere = gradient.dfa && this.config.training === 'dfa';
    const fb = <T extends tf.Tensor>(h: T): T => (gradient.dfa ? opts.dfaSession!.feedbackPoint(h) : h);

    const normalized = tf.div(tf.sub(x, this.normMean), this.normStd) as tf.Tensor4D;
    const convStages = new Set(this.features.stages.map((s, i) => (s.name.startsWith('conv') ? i : -1)));
    const feats = this.features.apply(normalized, opts, (i, h) => {
      opts.observe?.(this.features.stages[i].name, h);
      return dfaEverywhere && convStages.has(i) ? fb(h) : h;
    });

    const seed = opts.dropoutSeed ?? 0;
    let h = dropout(feats, this.config.dropout, { ...opts, dropoutSeed: seed });
    h = this.dense1.apply(h, 'relu');
    opts.observe?.('head/dense1', h);
    let logits: tf.Tensor2D;
    if (this.dense2) {
      if (gradient.dfa) h = fb(h);
      h = dropout(h, this.config.dropout, { ...opts, dropoutSeed: seed + 1 });
      h = this.dense2.apply(h, 'relu');
      opts.observe?.('head/dense2', h);
      if (dfaEverywhere) h = fb(h);
      logits = this.dense3.apply(h);
    } else {
      if (gradient.dfa) h = fb(h);
      let p: tf.Tensor2D = h;
      if (usesBinarization(this.config.defense)) {
        p = binarizeSign(p, { center: this.config.binarizeCenter, gradient: gradient.sign, beta: gradient.signBeta });
      }
      if (this.opu) {
        p = tf.relu(this.opu.forward(p, gradient.opu));
        opts.observe?.('head/opu', p);
      }
      logits = this.dense3.apply(p);
    }
    return gradient.dfa ? opts.dfaSession!.tap(logits) : logits;
  }

  /** Eval-mode logits (no gradient bookkeeping). */
  predictLogits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x, { training: false, gradient: { dfa: false, sign: 'zero', opu: 'none' } }));
  }

  dispose(): void {
    this.store.dispose();
    this.opu?.dispose();
    this.feedback?.dispose();
    this.normMean.dispose();
    this.normStd.dispose();
  }
}
