/**
 * The optical processing unit layer (docs/method.md §2): binary frame -> fixed random matrix -> intensity
 * -> camera. Usable anywhere in a model; the defended head uses it as
 * Dense -> ReLU -> [DFA] -> Sign(x - mean) -> OPU -> ReLU -> Dense.
 *
 * Modes:
 *  - 'physical': y = camera(|p R|^2), R complex Gaussian (Re, Im each N(0, 1/n_in); lightonml's simulator),
 *    p the DMD pixels in {0,1}.
 *  - 'reference': y = camera((x W)^2), W real N(0,1)/sqrt(n_out), fed the layer input as is (the reference
 *    code's SimulatedOpu, which receives the {-1,+1} sign output directly).
 *
 * Input convention: the layer input is the encoder output. With inputValues 'signed' (default) it is in
 * {-1,+1} and physical mode displays p = (x+1)/2 (the reference's real-OPU path); with 'binary' it is
 * already in {0,1} and p = x. Values are not checked (that would force a device sync on every call).
 *
 * Gradient modes (tf.customGrad; the forward always goes through the true matrix and the camera):
 *  - none:      zero gradient (the hardware has no backward pass).
 *  - random:    grad_in = g B^T with a separate fixed B ~ N(0,1)/sqrt(n_out) (the reference's backward;
 *               an attacker ignorant of R).
 *  - true:      exact derivative of the noiseless intensity model through the real matrix (oracle):
 *               physical 2 (g*(p Re R)) Re R^T + 2 (g*(p Im R)) Im R^T, reference 2 (g*(xW)) W^T,
 *               times dp/dx (1/2 for signed input in physical mode).
 *  - estimated: the same formula through a matrix estimated by system identification (sysid.ts).
 * In every mode the camera's affine part (gain*exposure, /255, mean subtraction) is differentiated; noise
 * and quantization are ignored. An estimate already includes the camera scale, so 'estimated' applies only
 * the mean subtraction.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed } from '../util/rng';
import { UserError } from '../util/errors';
import { Camera, CameraOptions } from './camera';
import { CostOptions, inputDensity, OpticalCostModel } from './cost';
import { unaryCustomGrad } from './grad';
import {
  ArrayFactorBlocks,
  BlockedMatrix,
  linearInputGradient,
  OpuMode,
  projectIntensity,
  quadraticInputGradient,
} from './transmission';
import { BlackBoxOpu, estimateTransmission, EstimateOptions, TransmissionEstimate } from './sysid';

export type { OpuMode } from './transmission';
export type OpuGradientMode = 'none' | 'random' | 'true' | 'estimated';
export const OPU_GRADIENT_MODES: readonly OpuGradientMode[] = ['none', 'random', 'true', 'estimated'];
export type OpuInputValues = 'signed' | 'binary';

export interface OpuOptions {
  inFeatures: number;
  outFeatures: number;
  mode: OpuMode;
  seed: number;
  /** Camera model; absent or all-off = the reference's noiseless, unquantized output. */
  camera?: CameraOptions;
  /** Columns per matrix block (default 1024); does not change the matrix. */
  blockSize?: number;
  /** Keep matrix blocks in memory (default: when they fit in 256 MB); false regenerates them per call. */
  cacheMatrix?: boolean;
  /** Encoding of the layer input (default 'signed': {-1,+1}). */
  inputValues?: OpuInputValues;
  /** Frame/time accounting and the input-density limit. */
  cost?: CostOptions;
  /** Measure the ON-pixel density of every forward batch against cost.maxOnFraction (forces a device sync). */
  checkDensity?: boolean;
}

export class OpticalProcessingUnit implements BlackBoxOpu {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly mode: OpuMode;
  readonly seed: number;
  readonly inputValues: OpuInputValues;
  readonly camera: Camera;
  readonly cost: OpticalCostModel;
  readonly checkDensity: boolean;
  /** Input vectors projected so far (forward rows). */
  projections = 0;
  /** DMD frames displayed so far (projections x frames per projection). */
  frames = 0;
  /** Frames whose ON-pixel density exceeded the limit (only counted when checkDensity). */
  saturatedFrames = 0;
  private readonly matrix: BlockedMatrix;
  private backwardMatrix: BlockedMatrix | null = null;
  private estimateBlocks: ArrayFactorBlocks | null = null;
  private estimateInfo: TransmissionEstimate | null = null;
  private readonly layers = new Map<OpuGradientMode, (x: tf.Tensor2D) => tf.Tensor2D>();
  private readonly blockSize: number | undefined;
  private readonly cacheMatrix: boolean | undefined;

  constructor(opts: OpuOptions) {
    if (opts.mode !== 'physical' && opts.mode !== 'reference') {
      throw new UserError(`opu mode '${String(opts.mode)}': expected physical or reference`);
    }
    const inputValues = opts.inputValues ?? 'signed';
    if (inputValues !== 'signed' && inputValues !== 'binary') {
      throw new UserError(`opu inputValues '${String(inputValues)}': expected signed or binary`);
    }
    this.inFeatures = opts.inFeatures;
    this.outFeatures = opts.outFeatures;
    this.mode = opts.mode;
    this.seed = opts.seed;
    this.inputValues = inputValues;
    this.blockSize = opts.blockSize;
    this.cacheMatrix = opts.cacheMatrix;
    this.matrix = new BlockedMatrix({
      inFeatures: opts.inFeatures,
      outFeatures: opts.outFeatures,
      kind: opts.mode,
      seed: opts.seed,
      blockSize: opts.blockSize,
      cache: opts.cacheMatrix,
    });
    this.camera = new Camera({ ...opts.camera, seed: opts.camera?.seed ?? deriveSeed(opts.seed, 'camera') });
    this.cost = new OpticalCostModel(opts.cost);
    this.checkDensity = opts.checkDensity ?? false;
  }

  /** True when two forward passes on the same input can differ (camera noise). */
  get stochastic(): boolean {
    return this.camera.stochastic;
  }

  /** The true transmission matrix (simulation oracle; the hardware never exposes it). */
  get transmission(): BlockedMatrix {
    return this.matrix;
  }

  /** The current system-identification estimate, if any. */
  get estimate(): TransmissionEstimate | null {
    return this.estimateInfo;
  }

  /** The reference's fixed random backward matrix B (generated on first use). */
  get randomBackwardMatrix(): BlockedMatrix {
    if (!this.backwardMatrix) {
      this.backwardMatrix = new BlockedMatrix({
        inFeatures: this.inFeatures,
        outFeatures: this.outFeatures,
        kind: 'backward',
        seed: this.seed,
        blockSize: this.blockSize,
        cache: this.cacheMatrix,
      });
    }
    return this.backwardMatrix;
  }

  /** Device time of everything projected so far, in seconds. */
  opticalTimeSec(): number {
    return this.cost.opticalTimeSec(this.projections);
  }

  resetCounters(): void {
    this.projections = 0;
    this.frames = 0;
    this.saturatedFrames = 0;
  }

  /** DMD pixels from the layer input: (x+1)/2 for signed input in physical mode, else x. */
  pixels(x: tf.Tensor2D): tf.Tensor2D {
    if (this.mode === 'physical' && this.inputValues === 'signed') return tf.div(tf.add(x, 1), 2);
    return x;
  }

  /** d(pixels)/d(input). */
  private get pixelSlope(): number {
    return this.mode === 'physical' && this.inputValues === 'signed' ? 0.5 : 1;
  }

  private checkInput(x: tf.Tensor2D): void {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new UserError(`OPU input of shape [${x.shape.join(', ')}]: expected [batch, ${this.inFeatures}]`);
    }
  }

  /**
   * Count `x`'s rows as device use (projections, frames, and the density check when on). Called by every readout
   * of this OPU, and by another engine that computes its readout (src/engine/opu-queries.ts).
   */
  account(x: tf.Tensor2D): void {
    const rows = x.shape[0];
    this.projections += rows;
    this.frames += rows * this.cost.framesPerProjection;
    if (this.checkDensity) {
      const pix = tf.tidy(() => this.pixels(x));
      const report = inputDensity(pix, this.cost.maxOnFraction);
      if (pix !== x) pix.dispose();
      this.saturatedFrames += report.saturatedFrames;
    }
  }

  /** Noiseless optical intensity of the layer input (|pR|^2 or (xW)^2), no camera. Simulation only. */
  intensity(x: tf.Tensor2D): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => projectIntensity(this.matrix, this.pixels(x)));
  }

  /** A black-box query: camera readout of the layer input, no gradient bookkeeping. Counted as device use. */
  measure(x: tf.Tensor2D): tf.Tensor2D {
    this.checkInput(x);
    this.account(x);
    return tf.tidy(() => this.camera.read(projectIntensity(this.matrix, this.pixels(x))));
  }

  /** The layer: camera readout of the projection, with the chosen backward pass. */
  forward(x: tf.Tensor2D, gradient: OpuGradientMode = 'none'): tf.Tensor2D {
    this.checkInput(x);
    if (!OPU_GRADIENT_MODES.includes(gradient)) {
      throw new UserError(`OPU gradient '${String(gradient)}': expected one of ${OPU_GRADIENT_MODES.join(', ')}`);
    }
    if (gradient === 'estimated' && !this.estimateBlocks) {
      throw new UserError("OPU gradient 'estimated' needs an estimate: call setEstimate() or estimateFromQueries() first");
    }
    this.account(x);
    let layer = this.layers.get(gradient);
    if (!layer) {
      layer = this.makeLayer(gradient);
      this.layers.set(gradient, layer);
    }
    return layer(x);
  }

  private makeLayer(gradient: OpuGradientMode): (x: tf.Tensor2D) => tf.Tensor2D {
    return unaryCustomGrad((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([x]);
      const value = tf.tidy(() => this.camera.read(projectIntensity(this.matrix, this.pixels(x))));
      return { value, gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => this.backward(gradient, saved[0] as tf.Tensor2D, dy) };
    });
  }

  /** dL/dx for upstream dL/dy under a gradient mode (the OPU layer's backward pass). */
  backward(gradient: OpuGradientMode, x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      switch (gradient) {
        case 'none':
          return tf.zeros<tf.Rank.R2>([x.shape[0], this.inFeatures]);
        case 'random':
          return linearInputGradient(this.randomBackwardMatrix, this.camera.backward(dy));
        case 'true': {
          const g = quadraticInputGradient(this.matrix, this.pixels(x), this.camera.backward(dy));
          return this.pixelSlope === 1 ? g : tf.mul<tf.Tensor2D>(g, this.pixelSlope);
        }
        case 'estimated': {
          if (!this.estimateBlocks) throw new UserError("OPU gradient 'estimated' needs an estimate");
          const g = quadraticInputGradient(this.estimateBlocks, this.pixels(x), this.camera.backward(dy, false));
          return this.pixelSlope === 1 ? g : tf.mul<tf.Tensor2D>(g, this.pixelSlope);
        }
        default:
          throw new UserError(`OPU gradient '${String(gradient)}': expected one of ${OPU_GRADIENT_MODES.join(', ')}`);
      }
    });
  }

  /** Use `estimate` for the 'estimated' gradient (null clears it). */
  setEstimate(estimate: TransmissionEstimate | null): void {
    this.estimateBlocks?.dispose();
    this.estimateBlocks = null;
    this.estimateInfo = null;
    if (!estimate) return;
    if (estimate.inFeatures !== this.inFeatures || estimate.outFeatures !== this.outFeatures) {
      throw new UserError(
        `estimate of shape ${estimate.inFeatures}x${estimate.outFeatures}: expected ${this.inFeatures}x${this.outFeatures}`,
      );
    }
    this.estimateBlocks = new ArrayFactorBlocks(this.inFeatures, this.outFeatures, estimate.factors, estimate.signs, this.blockSize);
    this.estimateInfo = estimate;
  }

  /**
   * System identification from `queries` black-box measurements (seeded), then setEstimate. `blackBox` answers
   * the queries instead of this layer's own `measure` (the same OPU on another engine, src/engine/opu-queries.ts).
   */
  estimateFromQueries(queries: number, seed: number, opts: Omit<EstimateOptions, 'queries' | 'seed'> = {}, blackBox: BlackBoxOpu = this): TransmissionEstimate {
    const estimate = estimateTransmission(blackBox, { ...opts, queries, seed });
    this.setEstimate(estimate);
    return estimate;
  }

  dispose(): void {
    this.matrix.dispose();
    this.backwardMatrix?.dispose();
    this.backwardMatrix = null;
    this.estimateBlocks?.dispose();
    this.estimateBlocks = null;
  }
}
