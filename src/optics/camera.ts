/**
 * Camera model of the optical readout (docs/method.md §2). Every stage is optional; with all options off the
 * camera is the identity, which reproduces the reference code's simulated OPU exactly.
 *
 *   signal   = gain * exposure * I + darkOffset            (I: optical intensity, e.g. |xR|^2)
 *   shot     ~ sqrt(gain * signal) * N(0,1)                 Poisson noise in photoelectrons, Gaussian regime
 *                                                           (Ohana et al. 2021): Var = gain^2 * (signal/gain)
 *   read     ~ readNoiseStd * N(0,1)                        (counts)
 *   counts   = clip(round(signal + shot + read), 0, 2^bits - 1)   when quantize (8-bit: saturates at 255)
 *              shot + read, two independent Gaussians, is drawn as one: sqrt(gain * signal + readNoiseStd^2) * N(0,1),
 *              the same distribution from half the normal draws (they dominate an EOT step's cost)
 *   readout  = counts / (2^bits - 1) - mean                  when hardwareNormalize (the reference's real-OPU
 *                                                           path: divide the uint8 output by 255, subtract
 *                                                           the mean of the batch tensor, or per sample)
 * `exposure` is photoelectrons per unit intensity, `gain` counts per photoelectron.
 *
 * Noise draws come from a seeded stream that advances per call: a given seed always yields the same
 * sequence of noise tensors; `resetNoise()` restarts it.
 *
 * Backward pass (used by the OPU layer): quantization, clipping and noise are ignored; the affine part is
 * differentiated exactly (scale gain*exposure, /(2^bits-1), and the mean subtraction).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fillNormal } from '../util/normal';
import { makeRng, Rng } from '../util/rng';
import { UserError } from '../util/errors';

export type HardwareNormalize = 'none' | 'batch-mean' | 'sample-mean';

export interface CameraOptions {
  /** Counts per photoelectron (default 1). */
  gain?: number;
  /** Photoelectrons per unit intensity (default 1). */
  exposure?: number;
  /** Counts added before noise (dark level; default 0). */
  darkOffset?: number;
  /** Shot (photon) noise with variance gain * signal (default off). */
  shotNoise?: boolean;
  /** Gaussian read noise std in counts (default 0). */
  readNoiseStd?: number;
  /** Round and clip to [0, 2^bitDepth - 1] (default off). */
  quantize?: boolean;
  /** Camera bit depth (default 8: uint8 output, saturation at 255). */
  bitDepth?: number;
  /** The reference's hardware readout: counts / (2^bits - 1) minus the mean (default 'none'). */
  hardwareNormalize?: HardwareNormalize;
  /** Seed of the noise stream (default 0; the OPU layer derives it from its own seed). */
  seed?: number;
}

export const CAMERA_OPTION_KEYS = [
  'gain',
  'exposure',
  'darkOffset',
  'shotNoise',
  'readNoiseStd',
  'quantize',
  'bitDepth',
  'hardwareNormalize',
  'seed',
] as const;

function finiteNonNegative(value: number, name: string): void {
  if (!Number.isFinite(value) || value < 0) throw new UserError(`camera ${name} = ${value}: expected a finite number >= 0`);
}

export class Camera {
  readonly gain: number;
  readonly exposure: number;
  readonly darkOffset: number;
  readonly shotNoise: boolean;
  readonly readNoiseStd: number;
  readonly quantize: boolean;
  readonly bitDepth: number;
  readonly hardwareNormalize: HardwareNormalize;
  readonly seed: number;
  private rng: Rng;

  constructor(opts: CameraOptions = {}) {
    for (const key of Object.keys(opts)) {
      if (!(CAMERA_OPTION_KEYS as readonly string[]).includes(key)) {
        throw new UserError(`unknown camera option '${key}': expected one of ${CAMERA_OPTION_KEYS.join(', ')}`);
      }
    }
    this.gain = opts.gain ?? 1;
    this.exposure = opts.exposure ?? 1;
    this.darkOffset = opts.darkOffset ?? 0;
    this.shotNoise = opts.shotNoise ?? false;
    this.readNoiseStd = opts.readNoiseStd ?? 0;
    this.quantize = opts.quantize ?? false;
    this.bitDepth = opts.bitDepth ?? 8;
    this.hardwareNormalize = opts.hardwareNormalize ?? 'none';
    this.seed = opts.seed ?? 0;
    if (!(this.gain > 0) || !Number.isFinite(this.gain)) {
      throw new UserError(`camera gain = ${this.gain}: expected a positive finite number`);
    }
    if (!(this.exposure > 0) || !Number.isFinite(this.exposure)) {
      throw new UserError(`camera exposure = ${this.exposure}: expected a positive finite number`);
    }
    finiteNonNegative(this.darkOffset, 'darkOffset');
    finiteNonNegative(this.readNoiseStd, 'readNoiseStd');
    if (typeof this.shotNoise !== 'boolean') throw new UserError(`camera shotNoise = ${String(this.shotNoise)}: expected true or false`);
    if (!Number.isInteger(this.bitDepth) || this.bitDepth < 1 || this.bitDepth > 16) {
      throw new UserError(`camera bitDepth = ${this.bitDepth}: expected an integer in [1, 16]`);
    }
    if (!['none', 'batch-mean', 'sample-mean'].includes(this.hardwareNormalize)) {
      throw new UserError(`camera hardwareNormalize '${String(this.hardwareNormalize)}': expected none, batch-mean or sample-mean`);
    }
    if (!Number.isInteger(this.seed)) throw new UserError(`camera seed = ${this.seed}: expected an integer`);
    this.rng = makeRng(this.seed, 'camera-noise');
  }

  /** Largest count value (255 for 8 bits). */
  get maxCount(): number {
    return 2 ** this.bitDepth - 1;
  }

  /** True when two readouts of the same intensity can differ. */
  get stochastic(): boolean {
    return this.shotNoise || this.readNoiseStd > 0;
  }

  /** True when the camera is the identity (all options off). */
  get isIdentity(): boolean {
    return (
      this.gain === 1 &&
      this.exposure === 1 &&
      this.darkOffset === 0 &&
      !this.stochastic &&
      !this.quantize &&
      this.hardwareNormalize === 'none'
    );
  }

  /** d(readout)/d(intensity) of the affine part, before any mean subtraction. */
  get scale(): number {
    return (this.gain * this.exposure) / (this.hardwareNormalize === 'none' ? 1 : this.maxCount);
  }

  /** Restart the noise stream (the next call draws the same noise as the first call after construction). */
  resetNoise(): void {
    this.rng = makeRng(this.seed, 'camera-noise');
  }

  /**
   * Continue from a noise stream derived from (camera seed, `seed`): training steps and evaluation chunks reseed
   * from their own seeds, so a resumed run or a chunk on another worker draws exactly the same noise.
   */
  reseedNoise(seed: number): void {
    this.rng = makeRng(this.seed, 'camera-noise', seed);
  }

  /**
   * The next noise draw of the stream for a readout of `shape`: standard normal (`read` scales it by the
   * readout's noise std, see the module comment); null when the camera is noise-free. `read` uses exactly this;
   * another engine computing the same readout calls this instead, so both see the same noise. Caller disposes.
   */
  drawNoise(shape: [number, number]): tf.Tensor2D | null {
    const a = this.drawNoiseArrays(shape[0] * shape[1]);
    return a && tf.tensor2d(a, shape);
  }

  /**
   * `drawNoise` as a plain array of `size` values (row-major), for engines that feed arrays: Gaussian samples
   * from the stream's next seed (src/util/normal.ts, a ziggurat), written into `into` when given (at `offset`),
   * so EOT feeds stack successive draws without copies. `drawNoise` is these values as a tensor.
   */
  drawNoiseArrays(size: number, into?: Float32Array, offset = 0): Float32Array | null {
    if (!this.stochastic) return null;
    // The seed is drawn before any other work so the stream advances identically whatever happens after.
    const seed = this.rng.nextSeed();
    return fillNormal(into ? into.subarray(offset, offset + size) : new Float32Array(size), 0, 1, seed);
  }

  /** Camera readout of an intensity batch [batch, m]. Draws fresh noise when stochastic. */
  read(intensity: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const noise = this.drawNoise(intensity.shape);
      let y: tf.Tensor2D = intensity;
      const a = this.gain * this.exposure;
      if (a !== 1) y = tf.mul(y, a);
      if (this.darkOffset !== 0) y = tf.add(y, this.darkOffset);
      if (noise) {
        // shot variance gain * signal plus read variance readNoiseStd^2, in one draw (module comment)
        const readVar = this.readNoiseStd * this.readNoiseStd;
        let std: tf.Tensor | number = this.readNoiseStd;
        if (this.shotNoise) {
          const shotVar = tf.mul(tf.relu(y), this.gain);
          std = tf.sqrt(readVar > 0 ? tf.add(shotVar, readVar) : shotVar);
        }
        y = tf.add(y, tf.mul(noise, std));
      }
      if (this.quantize) y = tf.clipByValue(tf.round(y), 0, this.maxCount);
      if (this.hardwareNormalize !== 'none') y = centerReadout(tf.div(y, this.maxCount), this.hardwareNormalize);
      return y === intensity ? tf.clone(y) : y;
    });
  }

  /** Backward of the affine readout: dL/dI = scale * centering^T(dL/dreadout); noise and rounding ignored. */
  backward(dy: tf.Tensor2D, includeScale = true): tf.Tensor2D {
    return tf.tidy(() => {
      let g = this.hardwareNormalize === 'none' ? dy : centerReadout(dy, this.hardwareNormalize);
      const s = includeScale ? this.scale : 1;
      if (s !== 1) g = tf.mul(g, s);
      return g === dy ? tf.clone(g) : g;
    });
  }
}

/** Subtract the mean of the whole batch tensor, or of each sample (row). Self-adjoint, so also its own backward. */
export function centerReadout(y: tf.Tensor2D, how: 'batch-mean' | 'sample-mean'): tf.Tensor2D {
  return how === 'batch-mean' ? tf.sub(y, tf.mean(y)) : tf.sub(y, tf.mean(y, 1, true));
}

/** Fraction of readout values at or above the saturation level (quantized counts == 2^bits - 1). */
export function saturatedFraction(counts: tf.Tensor, maxCount = 255): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.greaterEqual(counts, maxCount), 'float32')).dataSync()[0]);
}
