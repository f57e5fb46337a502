/**
 * A complete classifier: [input transform] -> input normalization -> feature backbone -> head. Which input
 * transform and which head is the model's DEFENSE (defenses/, one interface for built-ins and plugins): Network
 * asks the registry for it and builds the head from the primitive stages it declares (src/models/head.ts). It
 * knows no particular defense.
 *
 * How the backward pass behaves is chosen per call by a GradientPath, so the same trained weights serve
 * training (DFA), the gradient the model "naturally" exposes, and every BPDA surrogate an attacker may try.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, makeRng, Rng } from '../util/rng';
import { UserError } from '../util/errors';
import { ModelConfig, isRepVggArchitecture, modelId } from './config';
import { DfaSession, FeedbackMatrix } from './dfa';
import { BN_MOMENTUM, Dense, dropout, ForwardContext } from './layers';
import { ParamStore } from './params';
import { FeatureStage, VggFeatures } from './vgg';
import { RepVggFeatures } from './repvgg';
import { unaryCustomGrad } from '../optics/grad';
import { binarizeSign } from '../optics/encoders';
import { OpticalProcessingUnit } from '../optics/opu';
import { GradientPath, HeadStage, InputTransform, feedbackWidths } from './head';
import type { Defense } from '../../defenses/types';
import { defenseContext, defenseForConfig } from '../../defenses/registry';

export type { GradientPath, InputTransform } from './head';

/**
 * What Network needs of a feature backbone (VggFeatures and RepVggFeatures both fit).
 * `largestStageFeatures` (per-example size of the largest stage output) sizes per-layer DFA feedback; when
 * absent the VGG rule 32*32*C(first conv) applies.
 */
export interface FeatureExtractor {
  readonly stages: FeatureStage[];
  readonly outFeatures: number;
  readonly largestStageFeatures?: number;
  apply(x: tf.Tensor4D, ctx: ForwardContext, between?: (stage: number, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D;
}

export interface NetworkOptions {
  /** The defense to use; by default the registry resolves the one the config names (a plugin from its file). */
  defense?: Defense;
}

export const TRAINING_GRADIENT_PATHS: Record<string, GradientPath> = {
  /** hybrid/dfa training: the synthetic path. */
  dfa: { dfa: true, sign: 'zero', opu: 'none' },
  /** bp training through non-differentiable stages: a simulation-only oracle (straight-through sign, true matrix). */
  bpOracle: { dfa: false, sign: 'ste', opu: 'true' },
};

export interface ForwardOptions extends ForwardContext {
  gradient: GradientPath;
  /** Required when gradient.dfa is true: the session shared by the logits tap and the feedback points. */
  dfaSession?: DfaSession;
  /** Observe intermediate activations (feature probe); called with a stage name and its output. */
  observe?: (name: string, x: tf.Tensor) => void;
}

/** A head stage with the parameters Network built for it. */
type BuiltStage =
  | { stage: Extract<HeadStage, { op: 'dense' }>; dense: Dense }
  | { stage: Extract<HeadStage, { op: 'sign' }>; center: tf.Variable | null }
  | { stage: Extract<HeadStage, { op: 'opu' }>; opu: OpticalProcessingUnit }
  | { stage: Exclude<HeadStage, { op: 'dense' | 'sign' | 'opu' }> };

export class Network {
  readonly store = new ParamStore();
  readonly features: FeatureExtractor;
  /** The model's defense (built-in or plugin): its input transform, head stages, gradient modes, record. */
  readonly defense: Defense;
  /** The defense's input transform (null without one). */
  readonly inputTransform: InputTransform | null;
  /** Seed stream of the input transform's randomness in eval-mode calls (advances per call). */
  private transformRng: Rng;
  readonly opu: OpticalProcessingUnit | null;
  readonly feedback: FeedbackMatrix | null;
  /** The head's stages as declared by the defense (declarative; exporters read these). */
  readonly headStages: readonly HeadStage[];
  private readonly head: BuiltStage[] = [];
  private readonly normMean: tf.Tensor1D;
  private readonly normStd: tf.Tensor1D;

  constructor(readonly config: ModelConfig, opts: NetworkOptions = {}) {
    this.defense = opts.defense ?? defenseForConfig(config);
    const ctx = defenseContext(config);
    if (this.defense.trainings && !this.defense.trainings.includes(config.training)) {
      throw new UserError(`defense '${this.defense.name}' cannot be trained with '${config.training}': expected ${this.defense.trainings.join(' or ')}`);
    }
    if (this.defense.training && this.defense.training !== config.training) {
      throw new UserError(`defense '${this.defense.name}' trains with '${this.defense.training}', the model config says '${config.training}'`);
    }
    // hooks of a plugin defense run once on a tiny batch before anything is built (one-line error naming the file)
    this.defense.check();
    // the head's stages first: a defense whose head cannot be described fails before any weight exists
    this.headStages = this.defense.head(ctx);
    const rng = makeRng(config.seed, 'init');
    // backbone by architecture: RepVGG (train or deploy form) or VGG.
    if (isRepVggArchitecture(config.architecture)) {
      this.features = new RepVggFeatures(this.store, config.architecture, config.width, rng, config.repvggForm ?? 'train');
    } else {
      const depth = Number(config.architecture.replace('vgg', '')) as 11 | 13 | 16;
      this.features = new VggFeatures(this.store, depth, config.width, rng);
    }
    this.inputTransform = this.defense.inputTransform;
    this.transformRng = makeRng(config.seed, 'input-transform');
    let width = this.features.outFeatures;
    let opu: OpticalProcessingUnit | null = null;
    let signs = 0;
    for (const stage of this.headStages) {
      if (stage.op === 'dense') {
        this.head.push({ stage, dense: new Dense(this.store, `head/${stage.name}`, width, stage.units, rng) });
        width = stage.units;
      } else if (stage.op === 'sign') {
        // Running average of the Sign's batch-mean center, used in evaluation (binarizeCenter 'running-mean').
        const name = signs++ === 0 ? 'head/sign/running_center' : `head/sign${signs}/running_center`;
        this.head.push({ stage, center: stage.center === 'running-mean' ? this.store.addConst(name, [], 0, false) : null });
      } else if (stage.op === 'opu') {
        if (opu) throw new UserError(`defense '${this.defense.name}' declares two OPU stages; a head has at most one`);
        opu = new OpticalProcessingUnit({ inFeatures: width, outFeatures: stage.outFeatures, mode: stage.mode, seed: makeRng(config.seed, stage.seedLabel).nextSeed(), camera: stage.camera });
        this.head.push({ stage, opu });
        width = stage.outFeatures;
      } else this.head.push({ stage } as BuiltStage);
    }
    this.opu = opu;
    if (width !== config.numClasses) {
      this.dispose();
      throw new UserError(`defense '${this.defense.name}': the head ends with ${width} outputs, expected one per class (${config.numClasses})`);
    }
    if (config.training !== 'bp' && !this.headStages.some((s) => s.op === 'feedback')) {
      this.dispose();
      throw new UserError(`defense '${this.defense.name}' has no DFA feedback point in its head: train it with bp, not ${config.training}`);
    }
    this.feedback = config.training === 'bp' ? null : new FeedbackMatrix(config.numClasses, this.feedbackSize(), makeRng(config.seed, 'feedback').nextSeed());
    this.normMean = tf.keep(tf.tensor1d(config.normalization.mean));
    this.normStd = tf.keep(tf.tensor1d(config.normalization.std));
  }

  /** Size of B: the widest feedback point (head and, for per-layer DFA, the largest conv activation: 32x32xC1). */
  private feedbackSize(): number {
    const head = Math.max(1, ...feedbackWidths(this.headStages, this.features.outFeatures));
    if (this.config.training !== 'dfa') return head;
    const f = this.features;
    const largest = f.largestStageFeatures ?? 32 * 32 * (f as VggFeatures).convs[0].outChannels;
    return Math.max(head, largest);
  }

  get stochastic(): boolean {
    // a stochastic defense (camera noise, a random input transform) makes the classifier stochastic (attacks use EOT)
    return this.defense.stochastic(defenseContext(this.config)) || (this.opu?.stochastic ?? false) || (this.inputTransform?.stochastic ?? false);
  }

  /** Restart the input transform's eval-mode noise stream (the next call draws what the first call drew). */
  resetInputTransformNoise(): void {
    this.transformRng = makeRng(this.config.seed, 'input-transform');
  }

  /**
   * Apply the defense's input transform. Training calls derive their seed from the step's dropout
   * seed (so a resumed run repeats the same noise); eval calls draw from a per-network stream. Under a gradient
   * path that names one of the transform's surrogates, its backward is that surrogate. `forward` calls it first;
   * another engine that runs the rest of the model as its own graph calls it the same way (src/engine/), so both
   * draw the same seeds and compose the same backward. Returns `x` itself when the model has no transform.
   */
  transformInput(x: tf.Tensor4D, opts: ForwardOptions): tf.Tensor4D {
    const t = this.inputTransform;
    if (!t) return x;
    const seed = !t.stochastic ? 0 : opts.training ? deriveSeed(opts.dropoutSeed ?? 0, 'input-transform') : this.transformRng.nextSeed();
    const call = { seed, training: opts.training };
    const checked = (y: tf.Tensor4D): tf.Tensor4D => {
      if (y.shape.join('x') !== x.shape.join('x')) {
        throw new UserError(`defense '${t.name}' changed the input shape [${x.shape}] to [${y.shape}]: transformInput must keep it`);
      }
      return y === x ? (tf.clone(x) as tf.Tensor4D) : y;
    };
    const surrogate = t.surrogates[opts.gradient.inputTransform ?? 'autodiff'];
    if (!surrogate) return checked(t.forward(x, call));
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
    let h: tf.Tensor2D = feats;
    let dropouts = 0;
    for (const b of this.head) {
      const st = b.stage;
      if (st.op === 'dropout') h = dropout(h, this.config.dropout, { ...opts, dropoutSeed: seed + dropouts++ });
      else if ('dense' in b) h = b.dense.apply(h, b.stage.relu ? 'relu' : 'linear');
      else if (st.op === 'feedback') {
        if (st.perLayerOnly ? dfaEverywhere : gradient.dfa) h = fb(h);
      } else if ('center' in b) h = this.binarize(h, b.center, b.stage.center, gradient, opts.training);
      else if ('opu' in b) {
        // Training draws camera noise from the step's own seed (resume reproduces it exactly).
        if (opts.training && b.opu.stochastic) b.opu.camera.reseedNoise(deriveSeed(seed, 'camera'));
        h = b.opu.forward(h, gradient.opu);
      } else if (st.op === 'relu') h = tf.relu(h);
      if (st.observe) opts.observe?.(st.observe, h);
    }
    return gradient.dfa ? opts.dfaSession!.tap(h) : h;
  }

  /** Sign(x - center): the center per the stage (see BinarizeCenter); `running` holds the running-mean center. */
  private binarize(p: tf.Tensor2D, running: tf.Variable | null, center: string, gradient: GradientPath, training: boolean): tf.Tensor2D {
    const sign = { gradient: gradient.sign, beta: gradient.signBeta };
    if (!running) return binarizeSign(p, { ...sign, center: center as 'batch-mean' | 'sample-mean' });
    if (!training) return binarizeSign(tf.sub(p, running) as tf.Tensor2D, { ...sign, center: 'none' });
    const batchMean = tf.mean(p);
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
   * RepVGG structural re-parameterization: a NEW network in deploy form (each block one 3x3
   * conv + bias, src/models/repvgg.ts) with this network's head weights; same config otherwise (OPU and DFA
   * matrices regenerate from the seed). Caller disposes both networks.
   */
  reparameterize(): Network {
    const f = this.features;
    if (!(f instanceof RepVggFeatures)) {
      throw new UserError(`model '${modelId(this.config)}' cannot be re-parameterized: only RepVGG backbones (repvgg-a0/a1/a2) have a deploy form`);
    }
    const fusedFeatures = f.fusedParams();
    const deployed = new Network({ ...this.config, repvggForm: 'deploy' }, { defense: this.defense });
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
    this.normMean?.dispose();
    this.normStd?.dispose();
  }
}
