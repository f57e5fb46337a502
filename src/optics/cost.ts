/**
 * Optical cost model (docs/method.md §2; lightonml device properties): how many DMD frames a projection takes
 * and how long it runs on the device, plus the input-density limit (too many ON pixels saturate the camera;
 * the real runtime lowers the exposure to compensate).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { MAX_INPUT_PIXELS, MAX_OUTPUT_PIXELS } from './transmission';

export { MAX_INPUT_PIXELS, MAX_OUTPUT_PIXELS };
/** Default frame time 500 us (2 kHz). */
export const DEFAULT_FRAME_TIME_US = 500;
/** The linear mode (Re(xR) from several intensity measurements) is about 5x slower. */
export const LINEAR_MODE_FRAME_FACTOR = 5;

export interface CostOptions {
  /** Frames per input vector from the encoder (1 for sign/threshold; k thermometer; P or 2P bit-plane). */
  encoderFrames?: number;
  /** Linear readout mode (5x the frames). */
  linear?: boolean;
  frameTimeUs?: number;
  /** Maximum fraction of ON pixels per frame before the camera saturates (default 1 = no limit). */
  maxOnFraction?: number;
}

export class OpticalCostModel {
  readonly encoderFrames: number;
  readonly linear: boolean;
  readonly frameTimeUs: number;
  readonly maxOnFraction: number;

  constructor(opts: CostOptions = {}) {
    this.encoderFrames = opts.encoderFrames ?? 1;
    this.linear = opts.linear ?? false;
    this.frameTimeUs = opts.frameTimeUs ?? DEFAULT_FRAME_TIME_US;
    this.maxOnFraction = opts.maxOnFraction ?? 1;
    if (!Number.isInteger(this.encoderFrames) || this.encoderFrames < 1) {
      throw new UserError(`encoderFrames = ${this.encoderFrames}: expected a positive integer`);
    }
    if (!(this.frameTimeUs > 0) || !Number.isFinite(this.frameTimeUs)) {
      throw new UserError(`frameTimeUs = ${this.frameTimeUs}: expected a positive finite number`);
    }
    if (!(this.maxOnFraction > 0 && this.maxOnFraction <= 1)) {
      throw new UserError(`maxOnFraction = ${this.maxOnFraction}: expected a number in (0, 1]`);
    }
  }

  /** DMD frames per projected input vector. */
  get framesPerProjection(): number {
    return this.encoderFrames * (this.linear ? LINEAR_MODE_FRAME_FACTOR : 1);
  }

  /** Device time in seconds to project `numVectors` input vectors. */
  opticalTimeSec(numVectors: number): number {
    if (!(numVectors >= 0)) throw new UserError(`numVectors = ${numVectors}: expected a number >= 0`);
    return (numVectors * this.framesPerProjection * this.frameTimeUs) / 1e6;
  }
}

export interface DensityReport {
  /** Mean fraction of ON pixels per frame. */
  meanOnFraction: number;
  /** Largest fraction of ON pixels in any frame. */
  maxOnFraction: number;
  /** Frames above the limit. */
  saturatedFrames: number;
}

/** ON-pixel density of binary frames [frames, n] given in {0,1} (or {-1,+1} with signed = true). */
export function inputDensity(frames: tf.Tensor2D, limit = 1, signed = false): DensityReport {
  const perFrame = tf.tidy(() => {
    const on = signed ? tf.greater(frames, 0) : tf.greater(frames, 0.5);
    return tf.mean(tf.cast(on, 'float32'), 1);
  });
  const v = perFrame.dataSync();
  perFrame.dispose();
  let sum = 0;
  let max = 0;
  let saturated = 0;
  for (const f of v) {
    sum += f;
    if (f > max) max = f;
    if (f > limit) saturated++;
  }
  return { meanOnFraction: v.length ? sum / v.length : 0, maxOnFraction: max, saturatedFrames: saturated };
}
