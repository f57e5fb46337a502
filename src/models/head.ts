/**
 * The classifier head as data: a sequence of primitive stages that a defense declares (defenses/) and Network
 * builds and runs without knowing which defense it is. The stages are the building blocks of the paper-style
 * heads:
 *
 *   dropout                    Dropout(p = config.dropout), its own seed offset within the step
 *   dense <name> <units>       Dense(in -> units) [+ ReLU]; parameters `head/<name>/...`
 *   feedback                   a DFA feedback point (active under the DFA path; `perLayerOnly`: only when the
 *                              model trains with per-layer DFA, `training: 'dfa'`)
 *   sign <center>              Sign(x - center), center: running-mean | batch-mean | sample-mean
 *   opu                        the optical processing unit (fixed random matrix + camera), seeded from the model seed
 *   relu                       ReLU
 *
 * Every stage may name an `observe` tap (the feature-similarity probe reads it). The same sequence serves as a
 * declarative description for exporters: units, centers, OPU size/mode/seed label and camera are all in the data.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BinarizeCenter, CameraConfig, OpuMode } from './vocabulary';
import type { SignGradientMode } from '../optics/encoders';
import type { OpuGradientMode } from '../optics/opu';

export type HeadStage =
  | { op: 'dropout'; observe?: string }
  | { op: 'dense'; name: string; units: number; relu: boolean; observe?: string }
  | { op: 'feedback'; perLayerOnly?: boolean; observe?: string }
  | { op: 'sign'; center: BinarizeCenter; observe?: string }
  | { op: 'opu'; outFeatures: number; mode: OpuMode; seedLabel: string; camera?: CameraConfig; observe?: string }
  | { op: 'relu'; observe?: string };

/**
 * The backward behaviour of one forward pass.
 * - dfa: feedback points of the model's training method are active (hybrid: the head's; dfa: also after every
 *   conv block and the per-layer ones), and the Sign/OPU get `sign`/`opu` (irrelevant below a feedback point).
 * - bp: no feedback points; true backprop everywhere, with the given surrogates for the Sign and the OPU.
 * - inputTransform: backward of the defense's input transform: 'autodiff' (default) differentiates it as
 *   written; any other value names one of the transform's surrogates ('surrogate' is its default BPDA one).
 */
export interface GradientPath {
  dfa: boolean;
  sign: SignGradientMode;
  signBeta?: number;
  opu: OpuGradientMode;
  inputTransform?: string;
}

/** One call of an input transform: the seed of its randomness and whether it runs inside a training step. */
export interface TransformCall {
  seed: number;
  training: boolean;
}

/** dL/dx from dL/dy at input x (a BPDA surrogate of an input transform). */
export type TransformSurrogate = (dy: tf.Tensor4D, x: tf.Tensor4D, call: TransformCall) => tf.Tensor4D;

/** A pixel-space input transform applied BEFORE normalization (a defense's input stage). */
export interface InputTransform {
  readonly name: string;
  readonly stochastic: boolean;
  forward(x: tf.Tensor4D, call: TransformCall): tf.Tensor4D;
  /** BPDA backwards by name ('surrogate' = the default one); a missing name differentiates `forward` as written. */
  readonly surrogates: Readonly<Record<string, TransformSurrogate>>;
}

/** Widths of the inputs of every feedback point of a head whose input has `inFeatures` features. */
export function feedbackWidths(stages: readonly HeadStage[], inFeatures: number): number[] {
  const out: number[] = [];
  let width = inFeatures;
  for (const s of stages) {
    if (s.op === 'feedback') out.push(width);
    else if (s.op === 'dense') width = s.units;
    else if (s.op === 'opu') width = s.outFeatures;
  }
  return out;
}
