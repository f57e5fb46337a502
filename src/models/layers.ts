/** Building blocks on plain tfjs ops: conv + BatchNorm + ReLU, dense, dropout. NHWC, kernels HWIO. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng';
import { ParamStore } from './params';
import { batchNormReluTrain } from '../backend/kernels/batchnorm-relu';
import { convBiasRelu } from '../backend/kernels/fused-conv-relu';

export interface ForwardContext {
  training: boolean;
  /** Seed for dropout masks in this forward pass (training only). */
  dropoutSeed?: number;
}

export const BN_EPSILON = 1e-5;
/** PyTorch-style running-stat momentum: running = (1 - m) * running + m * batch. */
export const BN_MOMENTUM = 0.1;

export class ConvBnRelu {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    store: ParamStore,
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
    readonly kernel = 3,
  ) {
    // Reference VGG init: normal(0, sqrt(2 / (k*k*out_channels))), bias 0.
    const std = Math.sqrt(2 / (kernel * kernel * outChannels));
    this.w = store.addNormal(`${name}/kernel`, [kernel, kernel, inChannels, outChannels], std, rng);
    this.b = store.addConst(`${name}/bias`, [outChannels], 0);
    this.gamma = store.addConst(`${name}/bn/gamma`, [outChannels], 1);
    this.beta = store.addConst(`${name}/bn/beta`, [outChannels], 0);
    this.runningMean = store.addConst(`${name}/bn/running_mean`, [outChannels], 0, false);
    this.runningVar = store.addConst(`${name}/bn/running_var`, [outChannels], 1, false);
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!ctx.training) {
      // Inference: fold BatchNorm into the convolution and fuse bias + ReLU (one kernel call).
      const scale = tf.div(this.gamma, tf.sqrt(tf.add(this.runningVar, BN_EPSILON)));
      const w = tf.mul(this.w, scale) as tf.Tensor4D;
      const b = tf.add(tf.mul(tf.sub(this.b, this.runningMean), scale), this.beta) as tf.Tensor1D;
      // one kernel also under a gradient tape (attacks), with per-input lazy gradients
      return convBiasRelu(x, w, b, 1, 'same');
    }
    const conv = tf.conv2d(x, this.w as tf.Tensor4D, 1, 'same');
    // One fused kernel (bias + batch statistics + BatchNorm + ReLU, closed-form gradient) where the backend
    // has it (wasm, cpu): same math as the op-by-op path below, a third of its passes over the activation.
    const fused = batchNormReluTrain(conv, this.b as tf.Tensor1D, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, BN_EPSILON);
    if (fused) {
      updateRunningStats(this.runningMean, this.runningVar, fused.mean, fused.variance, conv.shape[0] * conv.shape[1] * conv.shape[2]);
      return fused.y;
    }
    const z = tf.add(conv, this.b) as tf.Tensor4D;
    const { mean, variance } = tf.moments(z, [0, 1, 2]);
    updateRunningStats(this.runningMean, this.runningVar, mean, variance, z.shape[0] * z.shape[1] * z.shape[2]);
    const y = tf.batchNorm(z, mean, variance, this.beta, this.gamma, BN_EPSILON);
    return tf.relu(y) as tf.Tensor4D;
  }
}

function updateRunningStats(
  runningMean: tf.Variable,
  runningVar: tf.Variable,
  mean: tf.Tensor,
  variance: tf.Tensor,
  count: number,
): void {
  tf.tidy(() => {
    // PyTorch keeps the unbiased batch variance in its running estimate.
    const unbiased = tf.mul(variance, count / Math.max(1, count - 1));
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
    runningVar.assign(tf.add(tf.mul(runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
  });
}

export class Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;

  constructor(store: ParamStore, readonly name: string, readonly inFeatures: number, readonly outFeatures: number, rng: Rng) {
    // PyTorch nn.Linear default init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    const bound = 1 / Math.sqrt(inFeatures);
    const wData = new Float32Array(inFeatures * outFeatures);
    for (let i = 0; i < wData.length; i++) wData[i] = rng.range(-bound, bound);
    const bData = new Float32Array(outFeatures);
    for (let i = 0; i < bData.length; i++) bData[i] = rng.range(-bound, bound);
    this.w = store.add(`${name}/kernel`, tf.tensor2d(wData, [inFeatures, outFeatures]));
    this.b = store.add(`${name}/bias`, tf.tensor1d(bData));
  }

  apply(x: tf.Tensor2D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.w as tf.Tensor2D, bias: this.b, activation }) as tf.Tensor2D;
  }
}

export function dropout(x: tf.Tensor2D, rate: number, ctx: ForwardContext): tf.Tensor2D {
  if (!ctx.training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, ctx.dropoutSeed ?? 0) as tf.Tensor2D;
}
