/**
 * Exact per-example query accounting for black-box attacks.
 *
 * Every row of every forward call is one query charged to the example that owns the row. A per-example
 * budget is enforced BEFORE the model is called: a call that would take any example past its budget is
 * refused with QueryBudgetError (an attack bug, never a partial spend). The wrapper exposes no gradient, so
 * an attack holding it is black-box by construction; decision-based attacks use `topLabels`, which returns
 * only the arg-max class of each row.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../src/types';
import { UserError } from '../src/util/errors';

/** Thrown when a call would exceed an example's query budget (a programming error in the attack). */
export class QueryBudgetError extends Error {
  constructor(
    readonly example: number,
    readonly used: number,
    readonly requested: number,
    readonly budget: number,
  ) {
    super(`query budget exceeded for example ${example}: used ${used} + requested ${requested} > budget ${budget}`);
    this.name = 'QueryBudgetError';
  }
}

export interface QueryCounterOptions {
  /**
   * Memory guard: split one logical call into forward passes of at most this many rows (0 = one pass).
   * Splitting changes nothing in the accounting or the results of a deterministic model.
   */
  maxRowsPerCall?: number;
}

export class QueryCounter implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic: boolean;
  readonly normalizationStd: readonly number[];
  /** Pixels per example (H*W*C). */
  readonly dim: number;
  private readonly used: Int32Array;
  private readonly maxRows: number;
  private calls = 0;

  constructor(
    private readonly model: Classifier,
    readonly numExamples: number,
    readonly budget: number,
    options: QueryCounterOptions = {},
  ) {
    if (!Number.isInteger(numExamples) || numExamples < 0) {
      throw new UserError(`bad number of examples ${numExamples}: expected an integer >= 0`);
    }
    if (!(budget >= 0) || !(Number.isInteger(budget) || budget === Infinity)) {
      throw new UserError(`bad query budget ${budget}: expected an integer >= 0`);
    }
    const maxRows = options.maxRowsPerCall ?? 0;
    if (!Number.isInteger(maxRows) || maxRows < 0) {
      throw new UserError(`bad maxRowsPerCall ${maxRows}: expected an integer >= 0 (0 = unlimited)`);
    }
    this.id = model.id;
    this.numClasses = model.numClasses;
    this.inputShape = model.inputShape;
    this.stochastic = model.stochastic;
    this.normalizationStd = model.normalizationStd;
    this.dim = model.inputShape[0] * model.inputShape[1] * model.inputShape[2];
    this.used = new Int32Array(numExamples);
    this.maxRows = maxRows;
  }

  /** Queries charged so far to example i. */
  queries(i: number): number {
    return this.used[i];
  }

  /** A copy of all per-example counts. */
  counts(): Int32Array {
    return this.used.slice();
  }

  /** Queries example i may still spend. */
  remaining(i: number): number {
    return this.budget - this.used[i];
  }

  /** Total queries over all examples. */
  total(): number {
    let s = 0;
    for (let i = 0; i < this.used.length; i++) s += this.used[i];
    return s;
  }

  /** Number of logical calls made (each possibly split by maxRowsPerCall). */
  callCount(): number {
    return this.calls;
  }

  /** Check and charge one query per row to `owners[row]`; throws before anything is charged. */
  private charge(owners: ArrayLike<number>): void {
    const want = new Map<number, number>();
    for (let r = 0; r < owners.length; r++) {
      const o = owners[r];
      if (!Number.isInteger(o) || o < 0 || o >= this.numExamples) {
        throw new Error(`query row ${r} owned by example ${o}, outside 0..${this.numExamples - 1}`);
      }
      want.set(o, (want.get(o) ?? 0) + 1);
    }
    for (const [o, k] of want) {
      if (this.used[o] + k > this.budget) throw new QueryBudgetError(o, this.used[o], k, this.budget);
    }
    for (const [o, k] of want) this.used[o] += k;
    this.calls++;
  }

  /** Classifier view: row i of x belongs to example i. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    const owners = new Int32Array(x.shape[0]);
    for (let i = 0; i < owners.length; i++) owners[i] = i;
    return this.logitsFor(x, owners);
  }

  /** Logits of x, row r charged to example owners[r]. */
  logitsFor(x: tf.Tensor4D, owners: ArrayLike<number>): tf.Tensor2D {
    if (owners.length !== x.shape[0]) {
      throw new Error(`logitsFor: ${x.shape[0]} rows but ${owners.length} owners`);
    }
    this.charge(owners);
    return this.forward(x);
  }

  private forward(x: tf.Tensor4D): tf.Tensor2D {
    const n = x.shape[0];
    if (this.maxRows === 0 || n <= this.maxRows) return this.model.logits(x);
    return tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      for (let s = 0; s < n; s += this.maxRows) {
        const size = Math.min(this.maxRows, n - s);
        parts.push(this.model.logits(tf.slice(x, [s, 0, 0, 0], [size, -1, -1, -1])));
      }
      return tf.concat(parts, 0);
    });
  }

  /**
   * Scores of packed rows: `pixels` holds rows.length*dim NHWC values in [0,1]. Returns the logits,
   * flat [rows, numClasses]. One tensor is created and disposed per call.
   */
  async scores(pixels: Float32Array, owners: ArrayLike<number>): Promise<Float32Array> {
    const rows = owners.length;
    if (pixels.length !== rows * this.dim) {
      throw new Error(`scores: ${pixels.length} values for ${rows} rows of ${this.dim}`);
    }
    if (rows === 0) return new Float32Array(0);
    this.charge(owners);
    const fast = this.model.logitsArray?.bind(this.model);
    if (fast) {
      // the engine's plain-array path: no tensor per query (same numbers as logits)
      if (this.maxRows === 0 || rows <= this.maxRows) return fast(pixels, rows);
      const k = this.numClasses;
      const out = new Float32Array(rows * k);
      for (let s = 0; s < rows; s += this.maxRows) {
        const size = Math.min(this.maxRows, rows - s);
        out.set(fast(pixels.subarray(s * this.dim, (s + size) * this.dim), size), s * k);
      }
      return out;
    }
    const [h, w, c] = this.inputShape;
    const x = tf.tensor4d(pixels, [rows, h, w, c]);
    let out: tf.Tensor2D | undefined;
    try {
      out = this.forward(x);
      return (await out.data()) as Float32Array;
    } finally {
      x.dispose();
      out?.dispose();
    }
  }

  /** Decision oracle: the top-1 class of each packed row (the only thing a decision-based attack sees). */
  async topLabels(pixels: Float32Array, owners: ArrayLike<number>): Promise<Int32Array> {
    const s = await this.scores(pixels, owners);
    const k = this.numClasses;
    const out = new Int32Array(owners.length);
    for (let r = 0; r < out.length; r++) out[r] = argMaxRow(s, r * k, k);
    return out;
  }
}

/** Index of the first maximum of s[offset .. offset+k) (tf.argMax's tie rule). */
export function argMaxRow(s: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  let bv = s[offset];
  for (let j = 1; j < k; j++) {
    const v = s[offset + j];
    if (v > bv) {
      bv = v;
      best = j;
    }
  }
  return best;
}
