/** CIFAR VGG-11/13/16 feature extractor with BatchNorm and a width multiplier (docs/method.md §1). */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng';
import { UserError } from '../util/errors';
import { ConvBnRelu, ForwardContext } from './layers';
import { ParamStore } from './params';

export type VggDepth = 11 | 13 | 16;
export type VggLayerSpec = number | 'M';

const VGG_CONFIGS: Record<VggDepth, VggLayerSpec[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

/** Channel plan with the width multiplier: max(8, round(v * width)) (same rule as the PyTorch peer). */
export function vggPlan(depth: VggDepth, width: number): VggLayerSpec[] {
  if (!(depth in VGG_CONFIGS)) throw new UserError(`unknown VGG depth ${depth}: expected 11, 13 or 16`);
  if (!(width > 0) || !Number.isFinite(width)) throw new UserError(`bad width ${width}: expected a positive number`);
  return VGG_CONFIGS[depth].map((v) => (v === 'M' ? 'M' : Math.max(8, Math.round(v * width))));
}

/** A feature stage: a conv block, or a max-pool. Stages are the unit of per-layer DFA and feature probes. */
export interface FeatureStage {
  readonly name: string;
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}

/**
 * Run `stages` in order; `between(i, x)` may wrap the output of stage i (per-layer DFA feedback points, feature
 * probes). Returns the flattened [batch, features] tensor. Shared by the VGG and RepVGG feature extractors.
 */
export function applyStages(stages: readonly FeatureStage[], x: tf.Tensor4D, ctx: ForwardContext, between?: (stage: number, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D {
  let h = x;
  stages.forEach((stage, i) => {
    h = stage.apply(h, ctx);
    if (between) h = between(i, h);
  });
  return tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
}

class MaxPoolStage implements FeatureStage {
  constructor(readonly name: string) {}
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.maxPool(x, 2, 2, 'valid');
  }
}

export class VggFeatures {
  readonly stages: FeatureStage[] = [];
  readonly convs: ConvBnRelu[] = [];
  readonly outFeatures: number;

  constructor(store: ParamStore, readonly depth: VggDepth, readonly width: number, rng: Rng, inChannels = 3) {
    let c = inChannels;
    let conv = 0;
    let pool = 0;
    for (const v of vggPlan(depth, width)) {
      if (v === 'M') {
        this.stages.push(new MaxPoolStage(`pool${++pool}`));
      } else {
        const block = new ConvBnRelu(store, `features/conv${++conv}`, c, v, rng);
        this.convs.push(block);
        this.stages.push({ name: `conv${conv}`, apply: (x, ctx) => block.apply(x, ctx) });
        c = v;
      }
    }
    this.outFeatures = c; // 32x32 input -> 1x1 after five pools
  }

  /**
   * Apply all stages; `between(i, x)` may wrap the output of stage i (used for per-layer DFA feedback points
   * and feature probes). Returns the flattened [batch, features] tensor.
   */
  apply(x: tf.Tensor4D, ctx: ForwardContext, between?: (stage: number, x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor2D {
    return applyStages(this.stages, x, ctx, between);
  }
}
