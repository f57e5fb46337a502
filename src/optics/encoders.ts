/**
 * Input encoders for an optical processing unit: the DMD only displays binary frames (docs/method.md §2),
 * so real-valued features are binarized before projection.
 *
 * - `binarizeSign`: the reference code's Sign(x - mean(x)) (batch mean over the whole tensor), one frame.
 * - `binarizeThreshold`: x > t for a fixed threshold or the per-sample median, one frame.
 * - `thermometerEncode`: k thresholds -> k frames (bit i = x > t_i).
 * - `bitPlaneEncode`: P-bit quantization, one frame per bit-plane; signed inputs use 2P frames
 *   (planes of the positive part, then of the negative part).
 *
 * Output values: the sign/threshold encoders return {-1,+1} (the reference's convention; the OPU maps
 * them to DMD pixels by (x+1)/2). Multi-frame encoders return frames in {-1,+1} ('signed', default) or
 * {0,1} ('binary'). Ties (x exactly at the threshold) map to +1, where torch.sign would return 0.
 *
 * Gradients (tf.customGrad) for the non-differentiable step:
 *   zero: the true gradient of a step function (0 almost everywhere);
 *   ste:  straight-through identity (BPDA, Athalye et al. 2018; the reference's SignBackthrough);
 *   tanh: the surrogate tanh(beta x), derivative beta (1 - tanh^2(beta x)) (the reference's comment).
 * Multi-frame encoders: ste passes the pseudo-inverse of their linear decoder (so decode(encode(x))
 * has unit straight-through derivative); tanh applies the surrogate per threshold (thermometer only).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { unaryCustomGrad } from './grad';

export type SignGradientMode = 'zero' | 'ste' | 'tanh';
export type BinarizeCenter = 'batch-mean' | 'sample-mean' | 'none';
export type FrameValues = 'signed' | 'binary';

export const SIGN_GRADIENT_MODES: readonly SignGradientMode[] = ['zero', 'ste', 'tanh'];
export const DEFAULT_TANH_BETA = 1;

export interface BinarizeSignOptions {
  /** What is subtracted before the sign: the mean of the whole batch tensor (reference), per sample, or nothing. */
  center?: BinarizeCenter;
  gradient?: SignGradientMode;
  /** Slope of the tanh surrogate (gradient 'tanh'); default 1. */
  beta?: number;
}

function checkGradientMode(mode: string): asserts mode is SignGradientMode {
  if (!SIGN_GRADIENT_MODES.includes(mode as SignGradientMode)) {
    throw new UserError(`sign gradient '${mode}': expected one of ${SIGN_GRADIENT_MODES.join(', ')}`);
  }
}

function checkBeta(beta: number): void {
  if (!(beta > 0) || !Number.isFinite(beta)) throw new UserError(`tanh beta = ${beta}: expected a positive finite number`);
}

/**
 * s = +1 where z >= 0 else -1, with the chosen backward: zero, identity (ste), or beta (1 - tanh^2(beta z)).
 * `scale` multiplies the surrogate derivative (used by multi-frame encoders).
 */
function signStep(z: tf.Tensor, gradient: SignGradientMode, beta: number, scale = 1): tf.Tensor {
  const f = unaryCustomGrad((zIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([zIn]);
    const value = tf.sub(tf.mul(tf.cast(tf.greaterEqual(zIn, 0), 'float32'), 2), 1);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        if (gradient === 'zero') return tf.zerosLike(dy);
        if (gradient === 'ste') return scale === 1 ? tf.clone(dy) : tf.mul(dy, scale);
        const t = tf.tanh(tf.mul(saved[0], beta));
        return tf.mul(dy, tf.mul(tf.sub(1, tf.square(t)), beta * scale));
      },
    };
  });
  return f(z);
}

/** Subtract the chosen center (differentiable, like the reference's x - x.mean()). */
function centered<T extends tf.Tensor>(x: T, center: BinarizeCenter): T {
  if (center === 'none') return x;
  if (center === 'batch-mean') return tf.sub(x, tf.mean(x));
  if (center === 'sample-mean') {
    if (x.rank < 2) throw new UserError(`sample-mean centering needs a [batch, features] tensor, got rank ${x.rank}`);
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    return tf.sub(x, tf.mean(x, axes, true));
  }
  throw new UserError(`binarize center '${String(center)}': expected batch-mean, sample-mean or none`);
}

/** Sign(x - center(x)) in {-1,+1} (docs/method.md §1). One DMD frame per input vector. */
export function binarizeSign<T extends tf.Tensor>(x: T, opts: BinarizeSignOptions = {}): T {
  const gradient = opts.gradient ?? 'zero';
  checkGradientMode(gradient);
  const beta = opts.beta ?? DEFAULT_TANH_BETA;
  checkBeta(beta);
  return tf.tidy(() => signStep(centered(x, opts.center ?? 'batch-mean'), gradient, beta) as T);
}

/** Frames per input vector of `binarizeSign` / `binarizeThreshold`. */
export const SIGN_FRAMES = 1;

export interface ThresholdOptions {
  /** A fixed threshold, or 'median' (per-sample median over features). Default 0. */
  threshold?: number | 'median';
  gradient?: SignGradientMode;
  beta?: number;
}

/** Per-row median of a [batch, n] tensor as [batch, 1] (mean of the two middle values for even n). */
function rowMedian(x: tf.Tensor2D): tf.Tensor2D {
  const n = x.shape[1];
  // topk sorts descending: the median sits at index floor(n/2) (odd n) or averages n/2-1 and n/2 (even n).
  const { values, indices } = tf.topk(x, Math.floor(n / 2) + 1, true);
  indices.dispose();
  const hi = tf.slice(values, [0, Math.floor(n / 2)], [-1, 1]);
  if (n % 2 === 1) return hi;
  const lo = tf.slice(values, [0, Math.floor(n / 2) - 1], [-1, 1]);
  return tf.div(tf.add(hi, lo), 2);
}

/** +1 where x >= threshold else -1 (threshold fixed, or each sample's median: half the pixels ON). */
export function binarizeThreshold(x: tf.Tensor2D, opts: ThresholdOptions = {}): tf.Tensor2D {
  const gradient = opts.gradient ?? 'zero';
  checkGradientMode(gradient);
  const beta = opts.beta ?? DEFAULT_TANH_BETA;
  checkBeta(beta);
  const threshold = opts.threshold ?? 0;
  if (threshold !== 'median' && !Number.isFinite(threshold)) {
    throw new UserError(`threshold = ${String(threshold)}: expected a finite number or 'median'`);
  }
  return tf.tidy(() => {
    // The median is treated as a constant in the backward pass (it is a data-dependent threshold).
    const t = threshold === 'median' ? rowMedian(x) : tf.scalar(threshold);
    return signStep(tf.sub(x, t), gradient, beta) as tf.Tensor2D;
  });
}

/** Several binary frames per input vector, stacked frame-major: row f*batch + i is frame f of sample i. */
export interface EncodedFrames {
  frames: tf.Tensor2D;
  framesPerVector: number;
  batch: number;
  /** Weights of the linear decoder x ~ offset + sum_f weight_f * bit_f (bits in {0,1}). */
  decoderWeights: readonly number[];
  decoderOffset: number;
}

export interface ThermometerOptions {
  /** Number of thresholds = frames per vector (k >= 1). */
  levels: number;
  /** Input range; thresholds are lo + (i+1)(hi-lo)/(k+1), i = 0..k-1. */
  min: number;
  max: number;
  gradient?: SignGradientMode;
  beta?: number;
  values?: FrameValues;
}

function checkRange(min: number, max: number): void {
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) {
    throw new UserError(`encoder range [${min}, ${max}]: expected finite min < max`);
  }
}

function toFrameValues(s: tf.Tensor, values: FrameValues): tf.Tensor {
  if (values === 'signed') return s;
  if (values === 'binary') return tf.div(tf.add(s, 1), 2);
  throw new UserError(`frame values '${String(values)}': expected signed or binary`);
}

/** Thermometer (multi-threshold) code: k frames, frame i = [x > t_i]. */
export function thermometerEncode(x: tf.Tensor2D, opts: ThermometerOptions): EncodedFrames {
  const k = opts.levels;
  if (!Number.isInteger(k) || k < 1 || k > 256) throw new UserError(`thermometer levels = ${k}: expected an integer in [1, 256]`);
  checkRange(opts.min, opts.max);
  const gradient = opts.gradient ?? 'zero';
  checkGradientMode(gradient);
  const beta = opts.beta ?? DEFAULT_TANH_BETA;
  checkBeta(beta);
  const step = (opts.max - opts.min) / (k + 1);
  const thresholds = Array.from({ length: k }, (_, i) => opts.min + (i + 1) * step);
  // Decoder x ~ min + step/2 + sum_i step * bit_i. Its pseudo-inverse gives the STE d bit_i/dx = 1/(k step),
  // i.e. d(2 bit_i - 1)/dx = 2/(k step) on the {-1,+1} frame (the 'binary' conversion halves it again).
  const signScale = gradient === 'ste' ? 2 / (k * step) : 1;
  const frames = tf.tidy(() => {
    const planes = thresholds.map(
      (t) => toFrameValues(signStep(tf.sub(x, t), gradient, beta, signScale), opts.values ?? 'signed') as tf.Tensor2D,
    );
    return planes.length === 1 ? planes[0] : tf.concat(planes, 0);
  });
  return {
    frames,
    framesPerVector: k,
    batch: x.shape[0],
    decoderWeights: thresholds.map(() => step),
    decoderOffset: opts.min + step / 2,
  };
}

export interface BitPlaneOptions {
  /** Bits of precision P (1..16). */
  bits: number;
  /** Input range. signed: symmetric [-max(|min|,|max|), +max(|min|,|max|)], 2P frames. */
  min: number;
  max: number;
  signed?: boolean;
  /** 'zero' or 'ste' (tanh is not defined for bit-planes). */
  gradient?: SignGradientMode;
  values?: FrameValues;
}

/** Bits of round(u * (2^P - 1)) for u in [0,1], as P tensors in {0,1}, least significant first. */
function planesOf(u: tf.Tensor2D, bits: number): tf.Tensor2D[] {
  const q = tf.round(tf.mul(tf.clipByValue(u, 0, 1), 2 ** bits - 1));
  return Array.from({ length: bits }, (_, p) => tf.mod(tf.floor(tf.div(q, 2 ** p)), 2) as tf.Tensor2D);
}

/** Bit-plane code: one frame per bit (2P frames for signed inputs: positive part, then negative part). */
export function bitPlaneEncode(x: tf.Tensor2D, opts: BitPlaneOptions): EncodedFrames {
  const P = opts.bits;
  if (!Number.isInteger(P) || P < 1 || P > 16) throw new UserError(`bit-plane bits = ${P}: expected an integer in [1, 16]`);
  checkRange(opts.min, opts.max);
  const gradient = opts.gradient ?? 'zero';
  if (gradient !== 'zero' && gradient !== 'ste') throw new UserError(`bit-plane gradient '${gradient}': expected zero or ste`);
  const values = opts.values ?? 'signed';
  const signed = opts.signed ?? false;
  const span = signed ? Math.max(Math.abs(opts.min), Math.abs(opts.max)) : opts.max - opts.min;
  if (!(span > 0)) throw new UserError(`bit-plane range [${opts.min}, ${opts.max}]: expected a non-zero span`);
  const lsb = span / (2 ** P - 1);
  const planeWeights = Array.from({ length: P }, (_, p) => 2 ** p * lsb);
  const weights = signed ? [...planeWeights, ...planeWeights.map((w) => -w)] : planeWeights;
  const sumSq = weights.reduce((a, w) => a + w * w, 0);

  const encode = unaryCustomGrad((xIn: tf.Tensor2D) => {
    const value = tf.tidy(() => {
      const parts = signed
        ? [...planesOf(tf.div(tf.relu(xIn), span), P), ...planesOf(tf.div(tf.relu(tf.neg(xIn)), span), P)]
        : planesOf(tf.div(tf.sub(xIn, opts.min), span), P);
      const stacked = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
      return toFrameValues(tf.sub(tf.mul(stacked, 2), 1), values) as tf.Tensor2D;
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor2D) => {
        if (gradient === 'zero') return tf.zeros(x.shape) as tf.Tensor2D;
        // Pseudo-inverse STE: d bit_f/dx = w_f / sum w^2, so d decode(encode(x))/dx = 1; a {-1,+1} frame is 2 bit - 1.
        const frameScale = values === 'signed' ? 2 : 1;
        const per = tf.reshape(dy, [weights.length, x.shape[0], x.shape[1]]);
        const w = tf.reshape(tf.tensor1d(weights.map((v) => (frameScale * v) / sumSq)), [weights.length, 1, 1]);
        return tf.sum(tf.mul(per, w), 0) as tf.Tensor2D;
      },
    };
  });
  return {
    frames: encode(x),
    framesPerVector: weights.length,
    batch: x.shape[0],
    decoderWeights: weights,
    decoderOffset: signed ? 0 : opts.min,
  };
}

/**
 * Combine per-frame outputs y ([F*batch, m], frame-major as produced by the encoders) into one vector per
 * sample: 'concat' -> [batch, F*m]; 'sum' -> weighted sum over frames with `weights` (default all 1),
 * e.g. the bit-plane weights 2^p of lightonml's mixing decoder.
 */
export function combineFrames(
  y: tf.Tensor2D,
  framesPerVector: number,
  how: 'concat' | 'sum',
  weights?: readonly number[],
): tf.Tensor2D {
  const [rows, m] = y.shape;
  if (!Number.isInteger(framesPerVector) || framesPerVector < 1 || rows % framesPerVector !== 0) {
    throw new UserError(`framesPerVector = ${framesPerVector}: expected a positive divisor of ${rows} rows`);
  }
  const batch = rows / framesPerVector;
  return tf.tidy(() => {
    const per = tf.reshape(y, [framesPerVector, batch, m]);
    if (how === 'concat') return tf.reshape(tf.transpose(per, [1, 0, 2]), [batch, framesPerVector * m]) as tf.Tensor2D;
    if (weights && weights.length !== framesPerVector) {
      throw new UserError(`${weights.length} frame weights: expected ${framesPerVector}`);
    }
    const w = tf.reshape(tf.tensor1d(weights ? [...weights] : new Array<number>(framesPerVector).fill(1)), [framesPerVector, 1, 1]);
    return tf.sum(tf.mul(per, w), 0) as tf.Tensor2D;
  });
}

/** Frames per input vector for each encoder (cost model input). */
export function encoderFrames(
  encoder: { kind: 'sign' | 'threshold' } | { kind: 'thermometer'; levels: number } | { kind: 'bitplane'; bits: number; signed?: boolean },
): number {
  switch (encoder.kind) {
    case 'sign':
    case 'threshold':
      return SIGN_FRAMES;
    case 'thermometer':
      return encoder.levels;
    case 'bitplane':
      return encoder.signed ? 2 * encoder.bits : encoder.bits;
  }
}
