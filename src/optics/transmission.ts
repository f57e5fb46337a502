/**
 * Fixed random matrices of the optical layer, generated deterministically from a seed in blocks of
 * columns (docs/method.md §2):
 *  - `physical`: complex transmission matrix R, Re and Im each N(0, 1/n_in) (lightonml's simulator);
 *    a block is stored as the real [n_in, 2*width] matrix [Re R_block | Im R_block].
 *  - `reference`: the reference code's real W ~ N(0,1)/sqrt(n_out) (its SimulatedOpu forward_weight).
 *  - `backward`: the reference code's second fixed matrix B ~ N(0,1)/sqrt(n_out), used as the
 *    "random" backward pass (grad_in = grad_out B^T), seeded independently of the forward matrix.
 * Every column has its own random stream (see fast-normal.ts), so the matrix does not depend on the
 * block size, and blocks can be regenerated on demand (streaming) instead of held in memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed } from '../util/rng';
import { UserError } from '../util/errors';
import { NormalStream } from './fast-normal';

export type OpuMode = 'physical' | 'reference';
export type MatrixKind = 'physical' | 'reference' | 'backward';

/** Device limits (lightonml device properties): DMD input 1140x912 pixels, camera 1920x1080 pixels. */
export const MAX_INPUT_PIXELS = 1140 * 912;
export const MAX_OUTPUT_PIXELS = 1920 * 1080;

export const DEFAULT_BLOCK_SIZE = 1024;
/** Above this many stored float32 values (256 MB) blocks are regenerated on use instead of cached. */
export const DEFAULT_MAX_CACHED_FLOATS = 64 * 1024 * 1024;

export interface BlockedMatrixOptions {
  inFeatures: number;
  outFeatures: number;
  kind: MatrixKind;
  seed: number;
  /** Columns per block (default 1024). Does not change the matrix, only how it is held and applied. */
  blockSize?: number;
  /** Cache blocks as tensors (default: when the matrix has at most DEFAULT_MAX_CACHED_FLOATS values). */
  cache?: boolean;
}

export interface ColumnBlock {
  /** First output column of the block. */
  start: number;
  /** Number of output columns in the block. */
  width: number;
}

function checkPositiveInt(value: number, name: string, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UserError(`${name} = ${value}: expected an integer in [1, ${max}]`);
  }
}

/** Number of real parts per column: 2 (Re, Im) for the complex physical matrix, else 1. */
export function partsPerColumn(kind: MatrixKind): number {
  return kind === 'physical' ? 2 : 1;
}

/** Base seed of a matrix kind: forward and backward matrices come from independent streams. */
function baseSeed(seed: number, kind: MatrixKind): number {
  return deriveSeed(seed, 'opu-matrix', kind);
}

/**
 * Values of columns [start, start + width) as a row-major [n_in, parts*width] Float32Array
 * (physical: real parts in the first `width` columns, imaginary parts in the next `width`).
 */
export function generateColumns(
  kind: MatrixKind,
  inFeatures: number,
  outFeatures: number,
  seed: number,
  start: number,
  width: number,
): Float32Array {
  const parts = partsPerColumn(kind);
  const rowLen = parts * width;
  const out = new Float32Array(inFeatures * rowLen);
  const std = kind === 'physical' ? 1 / Math.sqrt(inFeatures) : 1 / Math.sqrt(outFeatures);
  const base = baseSeed(seed, kind);
  for (let c = 0; c < width; c++) {
    const stream = new NormalStream(base, start + c);
    for (let p = 0; p < parts; p++) {
      const col = p * width + c;
      for (let i = 0; i < inFeatures; i++) out[i * rowLen + col] = stream.normal() * std;
    }
  }
  return out;
}

/**
 * Column blocks of real factor matrices: block i is [n_in, parts*width] = [A_1 | ... | A_parts] for
 * output columns [start, start+width). The quadratic model is y_j = sum_k (x a_jk)^2.
 */
export interface FactorBlocks {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly parts: number;
  readonly blocks: readonly ColumnBlock[];
  block(index: number): tf.Tensor2D;
  /** Optional per-(part, column) signs of block `index`, [1, parts*width]: y_j = sum_k s_jk (x a_jk)^2. */
  blockSigns?(index: number): tf.Tensor2D | null;
}

/** A fixed random matrix held (or regenerated) as column blocks. Call dispose() when done. */
export class BlockedMatrix implements FactorBlocks {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly kind: MatrixKind;
  readonly parts: number;
  readonly seed: number;
  readonly blockSize: number;
  readonly blocks: readonly ColumnBlock[];
  readonly cached: boolean;
  private cache: tf.Tensor2D[] | null;

  constructor(opts: BlockedMatrixOptions) {
    checkPositiveInt(opts.inFeatures, 'inFeatures', MAX_INPUT_PIXELS);
    checkPositiveInt(opts.outFeatures, 'outFeatures', MAX_OUTPUT_PIXELS);
    if (!Number.isInteger(opts.seed)) throw new UserError(`seed = ${opts.seed}: expected an integer`);
    const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    checkPositiveInt(blockSize, 'blockSize', MAX_OUTPUT_PIXELS);
    this.inFeatures = opts.inFeatures;
    this.outFeatures = opts.outFeatures;
    this.kind = opts.kind;
    this.parts = partsPerColumn(opts.kind);
    this.seed = opts.seed;
    this.blockSize = Math.min(blockSize, opts.outFeatures);
    const blocks: ColumnBlock[] = [];
    for (let s = 0; s < this.outFeatures; s += this.blockSize) {
      blocks.push({ start: s, width: Math.min(this.blockSize, this.outFeatures - s) });
    }
    this.blocks = blocks;
    const total = this.inFeatures * this.outFeatures * partsPerColumn(this.kind);
    this.cached = opts.cache ?? total <= DEFAULT_MAX_CACHED_FLOATS;
    this.cache = this.cached ? blocks.map((_, i) => tf.keep(this.generateBlock(i))) : null;
  }

  private generateBlock(index: number): tf.Tensor2D {
    const { start, width } = this.blocks[index];
    const values = generateColumns(this.kind, this.inFeatures, this.outFeatures, this.seed, start, width);
    return tf.tensor2d(values, [this.inFeatures, partsPerColumn(this.kind) * width]);
  }

  /**
   * Block `index` as an [n_in, parts*width] tensor. Cached blocks are owned by this object; streamed
   * blocks are fresh tensors, so call this inside tf.tidy.
   */
  block(index: number): tf.Tensor2D {
    if (this.cache) {
      if (!this.cache[index]) throw new Error('BlockedMatrix used after dispose()');
      return this.cache[index];
    }
    return this.generateBlock(index);
  }

  /** The whole matrix as row-major [n_in, n_out] arrays (real, and imag for physical). Small sizes only. */
  toArrays(): { real: Float32Array; imag: Float32Array | null } {
    const n = this.inFeatures;
    const m = this.outFeatures;
    const real = new Float32Array(n * m);
    const imag = this.kind === 'physical' ? new Float32Array(n * m) : null;
    for (const { start, width } of this.blocks) {
      const v = generateColumns(this.kind, n, m, this.seed, start, width);
      const rowLen = partsPerColumn(this.kind) * width;
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < width; c++) {
          real[i * m + start + c] = v[i * rowLen + c];
          if (imag) imag[i * m + start + c] = v[i * rowLen + width + c];
        }
      }
    }
    return { real, imag };
  }

  dispose(): void {
    if (this.cache) for (const t of this.cache) t.dispose();
    this.cache = this.cached ? [] : null;
  }
}

/** Real factor blocks built from arrays (e.g. a system-identification estimate); owns its tensors. */
export class ArrayFactorBlocks implements FactorBlocks {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly parts: number;
  readonly blocks: readonly ColumnBlock[];
  private tensors: tf.Tensor2D[];
  private signTensors: tf.Tensor2D[] | null;

  /**
   * `factors[k]` is a row-major [n_in, n_out] matrix A_k; `signs` (optional, [parts * n_out], part-major)
   * gives s_jk in y_j = sum_k s_jk (x a_jk)^2 (for indefinite estimates).
   */
  constructor(
    inFeatures: number,
    outFeatures: number,
    factors: readonly Float32Array[],
    signs: Float32Array | null = null,
    blockSize = DEFAULT_BLOCK_SIZE,
  ) {
    if (factors.length < 1) throw new UserError('factors: expected at least one [n_in, n_out] matrix');
    for (const f of factors) {
      if (f.length !== inFeatures * outFeatures) {
        throw new UserError(`factor of length ${f.length}: expected n_in*n_out = ${inFeatures * outFeatures}`);
      }
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.parts = factors.length;
    const blocks: ColumnBlock[] = [];
    for (let s = 0; s < outFeatures; s += blockSize) blocks.push({ start: s, width: Math.min(blockSize, outFeatures - s) });
    this.blocks = blocks;
    this.tensors = blocks.map(({ start, width }) => {
      const rowLen = this.parts * width;
      const v = new Float32Array(inFeatures * rowLen);
      for (let i = 0; i < inFeatures; i++) {
        for (let k = 0; k < this.parts; k++) {
          for (let c = 0; c < width; c++) v[i * rowLen + k * width + c] = factors[k][i * outFeatures + start + c];
        }
      }
      return tf.keep(tf.tensor2d(v, [inFeatures, rowLen]));
    });
    if (signs && signs.length !== this.parts * outFeatures) {
      throw new UserError(`signs of length ${signs.length}: expected parts*n_out = ${this.parts * outFeatures}`);
    }
    this.signTensors = signs
      ? blocks.map(({ start, width }) => {
          const v = new Float32Array(this.parts * width);
          for (let k = 0; k < this.parts; k++) for (let c = 0; c < width; c++) v[k * width + c] = signs[k * outFeatures + start + c];
          return tf.keep(tf.tensor2d(v, [1, this.parts * width]));
        })
      : null;
  }

  block(index: number): tf.Tensor2D {
    const t = this.tensors[index];
    if (!t) throw new Error('ArrayFactorBlocks used after dispose()');
    return t;
  }

  blockSigns(index: number): tf.Tensor2D | null {
    return this.signTensors ? this.signTensors[index] : null;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    for (const t of this.signTensors ?? []) t.dispose();
    this.tensors = [];
    this.signTensors = null;
  }
}

/**
 * Noiseless intensity of a batch through a blocked forward matrix:
 * physical |x R|^2 = (x Re R)^2 + (x Im R)^2; reference (x W)^2. `x` is [batch, n_in].
 */
export function projectIntensity(matrix: FactorBlocks, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const outs: tf.Tensor2D[] = matrix.blocks.map(({ width }, b) => {
      const signs = matrix.blockSigns?.(b) ?? null;
      const sq0 = tf.square(tf.matMul<tf.Tensor2D>(x, matrix.block(b)));
      const sq = signs ? tf.mul<tf.Tensor2D>(sq0, signs) : sq0;
      if (matrix.parts === 1) return sq;
      let y: tf.Tensor2D = tf.slice(sq, [0, 0], [-1, width]);
      for (let k = 1; k < matrix.parts; k++) y = tf.add<tf.Tensor2D>(y, tf.slice(sq, [0, k * width], [-1, width]));
      return y;
    });
    return outs.length === 1 ? outs[0] : tf.concat(outs, 1);
  });
}

/**
 * a b^T for a small a ([batch, k]) and a large b ([n, k]), computed as (b a^T)^T: on the wasm backend a
 * transposed-operand matmul is ~8x slower than a plain one (measured 309 ms vs 37 ms at 128x2048 . 2048x1024),
 * while transposing the batch-sized operands is cheap.
 */
function matMulTransposeLarge(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(tf.matMul<tf.Tensor2D>(b, tf.transpose(a)));
}

/**
 * Exact input gradient of sum(g * intensity) for the quadratic model y_j = sum_k (x a_jk)^2 with factor
 * blocks A (physical: a_j1 = Re r_j, a_j2 = Im r_j, so d|x r_j|^2/dx = 2 Re(r_j conj(x r_j))):
 * grad = sum_k 2 (g * (x A_k)) A_k^T. `g` is [batch, n_out].
 */
export function quadraticInputGradient(matrix: FactorBlocks, x: tf.Tensor2D, g: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    let acc: tf.Tensor2D | null = null;
    const parts = matrix.parts;
    for (let b = 0; b < matrix.blocks.length; b++) {
      const { start, width } = matrix.blocks[b];
      const a = matrix.block(b);
      const gb = tf.slice(g, [0, start], [-1, width]);
      const signs = matrix.blockSigns?.(b) ?? null;
      const gRep0 = parts === 1 ? gb : tf.concat(new Array<tf.Tensor2D>(parts).fill(gb), 1);
      const gRep = signs ? tf.mul<tf.Tensor2D>(gRep0, signs) : gRep0;
      const term = matMulTransposeLarge(tf.mul(gRep, tf.matMul(x, a)), a);
      acc = acc ? tf.add<tf.Tensor2D>(acc, term) : term;
    }
    return tf.mul(acc as tf.Tensor2D, 2) as tf.Tensor2D;
  });
}

/** Linear backward pass grad = g B^T through a blocked [n_in, n_out] real matrix B. */
export function linearInputGradient(matrix: BlockedMatrix, g: tf.Tensor2D): tf.Tensor2D {
  if (matrix.kind === 'physical') throw new Error('linearInputGradient expects a real matrix');
  return tf.tidy(() => {
    let acc: tf.Tensor2D | null = null;
    for (let b = 0; b < matrix.blocks.length; b++) {
      const { start, width } = matrix.blocks[b];
      const term = matMulTransposeLarge(tf.slice(g, [0, start], [-1, width]), matrix.block(b));
      acc = acc ? tf.add<tf.Tensor2D>(acc, term) : term;
    }
    return acc as tf.Tensor2D;
  });
}
