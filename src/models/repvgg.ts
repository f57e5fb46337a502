/**
 * RepVGG-A backbones for CIFAR (Ding et al. 2021, "RepVGG: Making VGG-style ConvNets Great Again").
 *
 * Training form: every block is ReLU( BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x) ), the identity branch only when
 * in == out channels and stride 1. Deploy form: ONE 3x3 conv + bias + ReLU per block. `fusedParams()` folds a
 * trained block into that conv (paper §3.3): each branch's BatchNorm is folded into its kernel
 * (K * gamma / sqrt(var + eps), bias beta - mean * gamma / sqrt(var + eps)), the 1x1 kernel is zero-padded to
 * 3x3 (its tap at the centre), the identity becomes a Dirac 3x3 kernel, and the three are summed.
 *
 * Plan (paper Table 2, RepVGG-A): stage depths [1, 2, 4, 14, 1], widths [min(64, 64a), 64a, 128a, 256a, 512b]
 * with A0 a=0.75 b=2.5, A1 a=1 b=2.5, A2 a=1.5 b=2.75; opulab's width multiplier then scales every stage
 * (max(8, round(c * width)), the VGG rule). The first block of each stage has stride 2.
 *
 * CIFAR adaptation (documented choice): the paper's stage 1 downsamples 224 -> 112; on 32x32 inputs we keep
 * stage 1 at stride 1, so the four remaining stride-2 stages give 32 -> 16 -> 8 -> 4 -> 2, followed by the
 * paper's global average pool (features = the last stage's width). 3x3 convs use symmetric padding 1
 * (PyTorch's), NOT tfjs 'same': with stride 2 'same' pads bottom/right only, which would misalign the 3x3
 * centre with the 1x1 branch and break the fusion.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng';
import { UserError } from '../util/errors';
import { BN_EPSILON, BN_MOMENTUM, ForwardContext } from './layers';
import { ParamStore } from './params';
import { applyStages, type FeatureStage } from './vgg';
import type { RepVggArchitecture, RepVggForm } from './config';

export const REPVGG_A_DEPTHS: readonly number[] = [1, 2, 4, 14, 1];

/** Width factors a (stages 1-4) and b (stage 5) of the paper's A-series. */
export const REPVGG_WIDTH_FACTORS: Readonly<Record<RepVggArchitecture, { a: number; b: number }>> = {
  'repvgg-a0': { a: 0.75, b: 2.5 },
  'repvgg-a1': { a: 1, b: 2.5 },
  'repvgg-a2': { a: 1.5, b: 2.75 },
};

export interface RepVggBlockSpec {
  /** Stage name used for params and probes: conv1..convN in network order. */
  name: string;
  stage: number;
  inChannels: number;
  outChannels: number;
  stride: 1 | 2;
}

/** Stage widths before opulab's width multiplier, e.g. A0: [48, 48, 96, 192, 1280]. */
export function repvggStageWidths(arch: RepVggArchitecture): number[] {
  const f = REPVGG_WIDTH_FACTORS[arch];
  if (!f) throw new UserError(`unknown RepVGG variant '${arch}': expected one of ${Object.keys(REPVGG_WIDTH_FACTORS).join(', ')}`);
  return [Math.min(64, 64 * f.a), 64 * f.a, 128 * f.a, 256 * f.a, 512 * f.b];
}

/** The block plan for a variant and width multiplier (CIFAR strides: stage 1 keeps 32x32). */
export function repvggPlan(arch: RepVggArchitecture, width: number, inChannels = 3): RepVggBlockSpec[] {
  if (!(width > 0) || !Number.isFinite(width)) throw new UserError(`bad width ${width}: expected a positive number`);
  const widths = repvggStageWidths(arch).map((c) => Math.max(8, Math.round(c * width)));
  const blocks: RepVggBlockSpec[] = [];
  let c = inChannels;
  REPVGG_A_DEPTHS.forEach((depth, stage) => {
    for (let i = 0; i < depth; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      blocks.push({ name: `conv${blocks.length + 1}`, stage: stage + 1, inChannels: c, outChannels: widths[stage], stride });
      c = widths[stage];
    }
  });
  return blocks;
}

/** BatchNorm parameters of one branch (PyTorch semantics: running stats updated with momentum 0.1). */
class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(store: ParamStore, name: string, channels: number) {
    this.gamma = store.addConst(`${name}/gamma`, [channels], 1);
    this.beta = store.addConst(`${name}/beta`, [channels], 0);
    this.runningMean = store.addConst(`${name}/running_mean`, [channels], 0, false);
    this.runningVar = store.addConst(`${name}/running_var`, [channels], 1, false);
  }

  apply(z: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (!training) return tf.batchNorm(z, this.runningMean, this.runningVar, this.beta, this.gamma, BN_EPSILON) as tf.Tensor4D;
    const { mean, variance } = tf.moments(z, [0, 1, 2]);
    const count = z.shape[0] * z.shape[1] * z.shape[2];
    tf.tidy(() => {
      const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    });
    return tf.batchNorm(z, mean, variance, this.beta, this.gamma, BN_EPSILON) as tf.Tensor4D;
  }

  /** gamma / sqrt(running_var + eps) and beta - running_mean * that: the eval-mode affine map. */
  foldFactors(): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
    return tf.tidy(() => {
      const scale = tf.div(this.gamma, tf.sqrt(tf.add(this.runningVar, BN_EPSILON))) as tf.Tensor1D;
      const shift = tf.sub(this.beta, tf.mul(this.runningMean, scale)) as tf.Tensor1D;
      return { scale, shift };
    });
  }
}

/** He-normal init as the VGG convs: N(0, sqrt(2 / (k*k*out))). */
function heStd(k: number, out: number): number {
  return Math.sqrt(2 / (k * k * out));
}

interface RepVggBlock {
  readonly spec: RepVggBlockSpec;
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}

/** Training form: 3x3 conv + BN, 1x1 conv + BN, identity BN (when shapes allow), summed, ReLU. */
export class RepVggTrainBlock implements RepVggBlock {
  readonly k3: tf.Variable;
  readonly k1: tf.Variable;
  readonly bn3: BatchNorm;
  readonly bn1: BatchNorm;
  readonly bnId: BatchNorm | null;

  constructor(store: ParamStore, readonly spec: RepVggBlockSpec, rng: Rng) {
    const p = `features/${spec.name}`;
    const { inChannels: ci, outChannels: co } = spec;
    this.k3 = store.addNormal(`${p}/conv3/kernel`, [3, 3, ci, co], heStd(3, co), rng);
    this.bn3 = new BatchNorm(store, `${p}/bn3`, co);
    this.k1 = store.addNormal(`${p}/conv1/kernel`, [1, 1, ci, co], heStd(1, co), rng);
    this.bn1 = new BatchNorm(store, `${p}/bn1`, co);
    this.bnId = ci === co && spec.stride === 1 ? new BatchNorm(store, `${p}/bnid`, co) : null;
  }

  /** The multi-branch computation (eval mode uses running statistics: the honest "unfused" model). */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const s = this.spec.stride;
    const y3 = this.bn3.apply(tf.conv2d(x, this.k3 as tf.Tensor4D, s, 1), ctx.training);
    const y1 = this.bn1.apply(tf.conv2d(x, this.k1 as tf.Tensor4D, s, 'valid'), ctx.training);
    let sum = tf.add(y3, y1) as tf.Tensor4D;
    if (this.bnId) sum = tf.add(sum, this.bnId.apply(x, ctx.training)) as tf.Tensor4D;
    return tf.relu(sum);
  }

  /** The equivalent single 3x3 kernel [3,3,in,out] and bias [out] (caller disposes). */
  fuse(): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
    return tf.tidy(() => {
      const { inChannels: ci, outChannels: co } = this.spec;
      const f3 = this.bn3.foldFactors();
      const f1 = this.bn1.foldFactors();
      let kernel = tf.add(tf.mul(this.k3, f3.scale), tf.pad(tf.mul(this.k1, f1.scale), [[1, 1], [1, 1], [0, 0], [0, 0]])) as tf.Tensor4D;
      let bias = tf.add(f3.shift, f1.shift) as tf.Tensor1D;
      if (this.bnId) {
        // Identity as a Dirac kernel: weight 1 at the centre tap from channel i to channel i.
        const dirac = tf.pad(tf.reshape(tf.eye(ci, co), [1, 1, ci, co]), [[1, 1], [1, 1], [0, 0], [0, 0]]);
        const fid = this.bnId.foldFactors();
        kernel = tf.add(kernel, tf.mul(dirac, fid.scale)) as tf.Tensor4D;
        bias = tf.add(bias, fid.shift) as tf.Tensor1D;
      }
      return { kernel, bias };
    });
  }
}

/** Deploy form: one 3x3 conv + bias + ReLU (a plain VGG-style layer). */
export class RepVggDeployBlock implements RepVggBlock {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;

  constructor(store: ParamStore, readonly spec: RepVggBlockSpec, rng: Rng) {
    const p = `features/${spec.name}/fused`;
    this.kernel = store.addNormal(`${p}/kernel`, [3, 3, spec.inChannels, spec.outChannels], heStd(3, spec.outChannels), rng);
    this.bias = store.addConst(`${p}/bias`, [spec.outChannels], 0);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.fused.conv2d({
      x,
      filter: this.kernel as tf.Tensor4D,
      strides: this.spec.stride,
      pad: 1,
      bias: this.bias,
      activation: 'relu',
    }) as tf.Tensor4D;
  }
}

/** Global average pool over H, W (kept as a 1x1 map so the stage output stays NHWC). */
class GlobalAveragePool implements FeatureStage {
  readonly name = 'gap';
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.mean(x, [1, 2], true) as tf.Tensor4D;
  }
}

/** RepVGG-A feature extractor with Network's FeatureExtractor shape ({ stages, outFeatures, apply }). */
export class RepVggFeatures {
  readonly stages: FeatureStage[] = [];
  readonly blocks: (RepVggTrainBlock | RepVggDeployBlock)[] = [];
  readonly outFeatures: number;
  /** Per-example size of the largest stage output (32*32*C of stage 1): sizes the per-layer DFA feedback matrix. */
  readonly largestStageFeatures: number;

  constructor(
    store: ParamStore,
    readonly architecture: RepVggArchitecture,
    readonly width: number,
    rng: Rng,
    readonly form: RepVggForm = 'train',
    inChannels = 3,
  ) {
    if (form !== 'train' && form !== 'deploy') throw new UserError(`unknown RepVGG form '${String(form)}': expected train or deploy`);
    const plan = repvggPlan(architecture, width, inChannels);
    let hw = 32;
    let largest = 0;
    for (const spec of plan) {
      const block = form === 'train' ? new RepVggTrainBlock(store, spec, rng) : new RepVggDeployBlock(store, spec, rng);
      this.blocks.push(block);
      this.stages.push({ name: spec.name, apply: (x, ctx) => block.apply(x, ctx) });
      hw = spec.stride === 2 ? Math.ceil(hw / 2) : hw;
      largest = Math.max(largest, hw * hw * spec.outChannels);
    }
    this.stages.push(new GlobalAveragePool());
    this.outFeatures = plan[plan.length - 1].outChannels;
    this.largestStageFeatures = largest;
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext, between?: (stage: number, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D {
    return applyStages(this.stages, x, ctx, between);
  }

  /**
   * The deploy-form parameters equivalent to this training-form extractor, named as a deploy-form
   * RepVggFeatures names them (`features/convN/fused/kernel|bias`). Caller disposes the tensors.
   */
  fusedParams(): { name: string; tensor: tf.Tensor }[] {
    if (this.form !== 'train') throw new UserError(`RepVGG model '${this.architecture}' is already in deploy form`);
    const out: { name: string; tensor: tf.Tensor }[] = [];
    for (const block of this.blocks as RepVggTrainBlock[]) {
      const { kernel, bias } = block.fuse();
      out.push({ name: `features/${block.spec.name}/fused/kernel`, tensor: kernel });
      out.push({ name: `features/${block.spec.name}/fused/bias`, tensor: bias });
    }
    return out;
  }
}
