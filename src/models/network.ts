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
import { deriveSeed, makeRng, Rng } from '../util/rng';
import { UserError } from '../util/errors';
import { ModelConfig, isRepVggArchitecture, modelId, usesBinarization, usesOpu } from './config';
import { DfaSession, FeedbackMatrix } from './dfa';
import { BN_MOMENTUM, Dense, dropout, ForwardContext } from './layers';
import { ParamStore } from './params';
import { FeatureStage, VggFeatures } from './vgg';
import { RepVggFeatures } from './repvgg';
import { unaryCustomGrad } from '../optics/grad';
import { loadInputTransform } from '../plugins/defense';
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
  /**
   * [plugins issue] Backward of a defense plugin's input transform: 'autodiff' (default) differentiates the
   * transform as written (a rounding step then has zero gradient); 'surrogate' uses the plugin's BPDA surrogate.
   */
  inputTransform?: 'autodiff' | 'surrogate';
}

/**
 * [backbones issue] What Network needs of a feature backbone (VggFeatures and RepVggFeatures both fit).
 * `largestStageFeatures` (per-example size of the largest stage output) sizes per-layer DFA feedback; when
 * absent the VGG rule 32*32*C(first conv) applies.
 */
export interface FeatureExtractor {
  readonly stages: FeatureStage[];
  readonly outFeatures: number;
  readonly largestStageFeatures?: number;
  apply(x: tf.Tensor4D, ctx: ForwardContext, between?: (stage: number, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D;
}

/**
 * [plugins issue] A pixel-space input transform applied in forward BEFORE normalization (a defense plugin,
 * src/plugins/defense.ts, adapts a plugin file to this). `call.seed` drives any randomness of one call.
 */
export interface InputTransform {
  readonly name: string;
  readonly stochastic: boolean;
  forward(x: tf.Tensor4D, call: { seed: number; training: boolean }): tf.Tensor4D;
  /** BPDA backward: dL/dx from dL/dy at input x; null = differentiate `forward` as written in every mode. */
  surrogateGradient: ((dy: tf.Tensor4D, x: tf.Tensor4D, call: { seed: number; training: boolean }) => tf.Tensor4D) | null;
}

export interface NetworkOptions {
  /** The input transform to use; by default the one recorded in config.plugin is loaded from its file. */
  inputTransform?: InputTransform | null;
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
  readonly features: FeatureExtractor;
  /** [plugins issue] Defense plugin input transform (null without a plugin). */
  readonly inputTransform: InputTransform | null;
  /** Seed stream of the input transform's randomness in eval-mode calls (advances per call). */
  private transformRng: Rng;
  readonly opu: OpticalProcessingUnit | null;
  readonly feedback: FeedbackMatrix | null;
  private readonly signCenter: tf.Variable | null = null;
  private readonly dense1: Dense;
  private readonly dense2: Dense | null;
  private readonly dense3: Dense;
  private readonly normMean: tf.Tensor1D;
  private readonly normStd: tf.Tensor1D;

  constructor(readonly config: ModelConfig, opts: NetworkOptions = {}) {
    const rng = makeRng(config.seed, 'init');
    // [backbones issue] backbone by architecture: RepVGG (train or deploy form) or VGG.
    if (isRepVggArchitecture(config.architecture)) {
      this.features = new RepVggFeatures(this.store, config.architecture, config.width, rng, config.repvggForm ?? 'train');
    } else {
      const depth = Number(config.architecture.replace('vgg', '')) as 11 | 13 | 16;
      this.features = new VggFeatures(this.store, depth, config.width, rng);
    }
    // [plugins issue] input transform of a defense plugin (loaded from the recorded file unless given).
    this.inputTransform = opts.inputTransform !== undefined ? opts.inputTransform : config.plugin ? loadInputTransform(config.plugin) : null;
    this.transformRng = makeRng(config.seed, 'input-transform');
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
      // Running average of the Sign's batch-mean center, used in evaluation (binarizeCenter 'running-mean').
      this.signCenter =
        usesBinarization(config.defense) && config.binarizeCenter === 'running-mean'
          ? this.store.addConst('head/sign/running_center', [], 0, false)
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
    const f = this.features;
    const largest = f.largestStageFeatures ?? 32 * 32 * (f as VggFeatures).convs[0].outChannels;
    return Math.max(head, largest);
  }

  get stochastic(): boolean {
    // [plugins issue] a stochastic input transform makes the classifier stochastic (so attacks use EOT).
    return (this.opu?.stochastic ?? false) || (this.inputTransform?.stochastic ?? false);
  }

  /** Restart the input transform's eval-mode noise stream (the next call draws what the first call drew). */
  resetInputTransformNoise(): void {
    this.transformRng = makeRng(this.config.seed, 'input-transform');
  }

  /**
   * [plugins issue] Apply the plugin input transform. Training calls derive their seed from the step's dropout
   * seed (so a resumed run repeats the same noise); eval calls draw from a per-network stream.
   */
  private transformInput(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor4D {
    const t = this.inputTransform;
    if (!t) return x;
    const seed = !t.stochastic ? 0 : opts.training ? deriveSeed(opts.dropoutSeed ?? 0, 'input-transform') : this.transformRng.nextSeed();
    const call = { seed, training: opts.training };
    const checked = (y: tf.Tensor4D): tf.Tensor4D => {
      if (y.shape.join('x') !== x.shape.join('x')) {
        throw new UserError(`defense plugin '${t.name}' changed the input shape [${x.shape}] to [${y.shape}]: transformInput must keep it`);
      }
      return y === x ? (tf.clone(x) as tf.Tensor4D) : y;
    };
    const surrogate = t.surrogateGradient;
    if ((opts.gradient.inputTransform ?? 'autodiff') === 'autodiff' || !surrogate) return checked(t.forward(x, call));
    return unaryCustomGrad<tf.Tensor4D, tf.Tensor4D>((xi, save) => {
      save([xi]);
      return { value: checked(t.forward(xi, call)), gradFunc: (dy, saved) => surrogate(dy, saved[0] as tf.Tensor4D, call) };
    })(x);
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

    const input = this.transformInput(x, opts);
    if (this.inputTransform) opts.observe?.('input-transform', input);
    const normalized = tf.div(tf.sub(input, this.normMean), this.normStd) as tf.Tensor4D;
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
        p = this.binarize(p, gradient, opts.training);
      }
      if (this.opu) {
        // Training draws camera noise from the step's own seed (resume reproduces it exactly).
        if (opts.training && this.opu.stochastic) this.opu.camera.reseedNoise(deriveSeed(seed, 'camera'));
        p = tf.relu(this.opu.forward(p, gradient.opu));
        opts.observe?.('head/opu', p);
      }
      logits = this.dense3.apply(p);
    }
    return gradient.dfa ? opts.dfaSession!.tap(logits) : logits;
  }

  /** Sign(x - center): the center per config.binarizeCenter (see BinarizeCenter). */
  private binarize(p: tf.Tensor2D, gradient: GradientPath, training: boolean): tf.Tensor2D {
    const sign = { gradient: gradient.sign, beta: gradient.signBeta };
    if (!this.signCenter) return binarizeSign(p, { ...sign, center: this.config.binarizeCenter as 'batch-mean' | 'sample-mean' });
    if (!training) return binarizeSign(tf.sub(p, this.signCenter) as tf.Tensor2D, { ...sign, center: 'none' });
    const batchMean = tf.mean(p);
    const running = this.signCenter;
    tf.tidy(() => {
      running.assign(tf.add(tf.mul(running, 1 - BN_MOMENTUM), tf.mul(batchMean, BN_MOMENTUM)));
    });
    return binarizeSign(tf.sub(p, batchMean) as tf.Tensor2D, { ...sign, center: 'none' });
  }

  /** Eval-mode logits (no gradient bookkeeping). */
  predictLogits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x, { training: false, gradient: { dfa: false, sign: 'zero', opu: 'none' } }));
  }

  /**
   * [backbones issue] RepVGG structural re-parameterization: a NEW network in deploy form (each block one 3x3
   * conv + bias, src/models/repvgg.ts) with this network's head weights; same config otherwise (OPU and DFA
   * matrices regenerate from the seed). Caller disposes both networks.
   */
  reparameterize(): Network {
    const f = this.features;
    if (!(f instanceof RepVggFeatures)) {
      throw new UserError(`model '${modelId(this.config)}' cannot be re-parameterized: only RepVGG backbones (repvgg-a0/a1/a2) have a deploy form`);
    }
    const fusedFeatures = f.fusedParams();
    const deployed = new Network({ ...this.config, repvggForm: 'deploy' }, { inputTransform: this.inputTransform });
    try {
      const source = new Map<string, tf.Tensor>(fusedFeatures.map((p) => [p.name, p.tensor]));
      for (const p of this.store.list()) if (!p.name.startsWith('features/')) source.set(p.name, p.variable);
      for (const target of deployed.store.list()) {
        const t = source.get(target.name);
        if (!t || t.shape.join('x') !== target.variable.shape.join('x')) throw new Error(`re-parameterization: no matching weight for '${target.name}'`);
        target.variable.assign(t);
      }
    } catch (e) {
      deployed.dispose();
      throw e;
    } finally {
      tf.dispose(fusedFeatures.map((p) => p.tensor));
    }
    return deployed;
  }

  dispose(): void {
    this.store.dispose();
    this.opu?.dispose();
    this.feedback?.dispose();
    this.normMean.dispose();
    this.normStd.dispose();
  }
}
