/**
 * System identification of a black-box OPU: recover (a factorisation of) its transmission matrix from
 * input/output queries, so an attacker can use the 'estimated' gradient (docs/method.md §4, system identification).
 *
 * Every output is quadratic in the DMD pixels p: y_j = p^T M_j p + offset, with
 *   physical  M_j = alpha Re(r_j r_j^H) = alpha (Re r_j Re r_j^T + Im r_j Im r_j^T)  (rank <= 2, PSD)
 *   reference M_j = alpha w_j w_j^T                                                  (rank 1)
 * (alpha: the camera's gain). The gradient of p^T M p is 2 M p, so factors a_jk with M_j = sum_k a_jk a_jk^T
 * give the estimated gradient 2 sum_k (g * (p A_k)) A_k^T. Sign/phase ambiguities (w vs -w, r vs e^{it} r,
 * r vs conj(r)) leave M_j, hence the gradient, unchanged.
 *
 * Two estimators:
 *  - lifted (n_in <= 128; auto for n_in <= 32): random binary queries, least squares of y on all pairwise
 *    products p_a p_b (the "lifting" of a quadratic form to a linear one), then the top eigenvectors of
 *    each M_j. Needs about n^2/2 queries for an exact fit; cost O(N n^4) in the solve.
 *    {0,1} pixels (physical): p_a^2 = p_a, so the diagonal appears as linear terms and is identified.
 *    {-1,+1} input (reference): s_a^2 = 1, the diagonal is not identified; it is completed by
 *    alternating rank-1 fits (w_a^2 = lambda u_a^2).
 *  - anchored (any n_in): interferometric differences with fixed "anchor" sets A_k of pixels, in the spirit of
 *    the OPU's linear (holographic) mode: for z off A_k, y(z + 1_{A_k}) - y(z) = 2 (M 1_{A_k}) . z + |c_k|^2
 *    (c_k = 1_{A_k} . r) is LINEAR in z, so least squares over ~n random z measures the sketch column
 *    M 1_{A_k} (off A_k) and the core entry 1^T M 1 over A_k. Reference mode with {-1,+1} input: anchor pixels
 *    +1 vs -1 gives y(+) - y(-) = 4 (M 1_{A_k}) . z. With K disjoint anchors (default 8 of n_in/10 pixels) the
 *    rank-r matrix is rebuilt by a Nystrom step: core S^T M S -> top-r factor C, then each pixel's factor row
 *    by least squares over the anchors that do not contain it. Needs about 2 K n queries for an exact fit
 *    (noiseless); cost O(K N n (n + n_out)) plus an n x n solve per anchor.
 * Limits: noise and 8-bit quantization bias both estimators (more queries average it out); a camera that
 * subtracts the batch mean is handled only when both halves of a difference share a batch (anchored) or
 * all queries share one batch (lifted with chunkRows >= queries); per-sample mean subtraction breaks the
 * rank assumption of the lifted factorisation. The anchored one detects it (the readouts sum to zero over the
 * outputs) and removes the offset it leaves on the core (nystromFactors).
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng, Rng } from '../util/rng';
import { UserError } from '../util/errors';
import { spdInverse, symmetricEigen } from './linalg';
import type { OpuMode } from './transmission';

/** What system identification may use of an OPU: its shape, input encoding and black-box queries. */
export interface BlackBoxOpu {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly mode: OpuMode;
  readonly inputValues: 'signed' | 'binary';
  /** Camera readout of a batch of layer inputs [rows, n_in] -> [rows, n_out]. */
  measure(x: tf.Tensor2D): tf.Tensor2D;
}

export type SysidMethod = 'auto' | 'lifted' | 'anchored';

export interface EstimateOptions {
  /** Black-box queries (input vectors) to spend. */
  queries: number;
  seed: number;
  method?: SysidMethod;
  /** Anchored: number of disjoint anchor sets (default 8 for n_in >= 16, >= 3). */
  anchors?: number;
  /** Anchored: anchor size as a fraction of n_in (default 1/10). */
  anchorFraction?: number;
  /** Rows per black-box call (default: ~4M output values per call). */
  chunkRows?: number;
  /** Relative Tikhonov ridge of the least-squares solves (default 1e-6). */
  ridge?: number;
}

export interface TransmissionEstimate {
  method: 'lifted' | 'anchored';
  mode: OpuMode;
  inFeatures: number;
  outFeatures: number;
  /** Black-box queries actually spent. */
  queries: number;
  /** Factor matrices A_k, each row-major [n_in, n_out], in the layer's pixel domain (see OpticalProcessingUnit.pixels). */
  factors: Float32Array[];
  /** Per-(part, column) signs (null: all +1). */
  signs: Float32Array | null;
}

export const LIFTED_AUTO_MAX_IN = 32;
/** Anchored defaults, chosen on the noisy 8-bit camera (n_in 16 and 64): 8 anchors of n_in/10 pixels. */
export const DEFAULT_ANCHORS = 8;
export const DEFAULT_ANCHOR_FRACTION = 1 / 10;
export const LIFTED_MAX_IN = 128;

/** The pixel domain of the black box: {0,1} pixels (physical, or binary input) or {-1,+1} (reference, signed). */
function isSignedDomain(opu: BlackBoxOpu): boolean {
  return opu.mode === 'reference' && opu.inputValues === 'signed';
}

/** Layer input for pixel rows (domain values): physical with signed input displays (x+1)/2, so x = 2p - 1. */
function toLayerInput(opu: BlackBoxOpu, pixels: Float32Array, rows: number): tf.Tensor2D {
  const x = tf.tensor2d(pixels, [rows, opu.inFeatures]);
  if (opu.mode === 'physical' && opu.inputValues === 'signed') {
    const s = tf.tidy(() => tf.sub(tf.mul(x, 2), 1) as tf.Tensor2D);
    x.dispose();
    return s;
  }
  return x;
}

/** Accumulates X^T X and X^T Y over chunks (tfjs matmuls), then solves (X^T X + ridge) B = X^T Y. */
class NormalEquations {
  private xtx: tf.Tensor2D;
  private xty: tf.Tensor2D;

  constructor(
    readonly p: number,
    readonly m: number,
  ) {
    this.xtx = tf.zeros([p, p]);
    this.xty = tf.zeros([p, m]);
  }

  /** design: row-major [rows, p]; targets: [rows, m] (not disposed). */
  add(design: Float32Array, rows: number, targets: tf.Tensor2D): void {
    const [xtx, xty] = tf.tidy(() => {
      const x = tf.tensor2d(design, [rows, this.p]);
      return [tf.add(this.xtx, tf.matMul(x, x, true, false)), tf.add(this.xty, tf.matMul(x, targets, true, false))];
    });
    this.xtx.dispose();
    this.xty.dispose();
    this.xtx = xtx as tf.Tensor2D;
    this.xty = xty as tf.Tensor2D;
  }

  /** Coefficients [p, m] row-major; disposes the accumulators. */
  solve(ridge: number): Float32Array {
    const a = Float64Array.from(this.xtx.dataSync());
    const inv = spdInverse(a, this.p, ridge);
    const b = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(inv), [this.p, this.p]), this.xty));
    const out = b.dataSync() as Float32Array;
    b.dispose();
    this.xtx.dispose();
    this.xty.dispose();
    return Float32Array.from(out);
  }
}

function defaultChunkRows(opu: BlackBoxOpu, opts: EstimateOptions): number {
  const c = opts.chunkRows ?? Math.max(2, Math.floor((4 * 1024 * 1024) / Math.max(opu.outFeatures, opu.inFeatures)));
  if (!Number.isInteger(c) || c < 2) throw new UserError(`chunkRows = ${c}: expected an integer >= 2`);
  return c;
}

/** Random query pixels: {0,1} with probability 1/2, or {-1,+1}. */
function randomPixel(rng: Rng, signed: boolean): number {
  const on = rng.uniform() < 0.5;
  return signed ? (on ? 1 : -1) : on ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Lifted least squares (small n)

function liftedEstimate(opu: BlackBoxOpu, opts: EstimateOptions): TransmissionEstimate {
  const n = opu.inFeatures;
  const m = opu.outFeatures;
  if (n > LIFTED_MAX_IN) {
    throw new UserError(`lifted system identification with n_in = ${n}: expected n_in <= ${LIFTED_MAX_IN} (use method 'anchored')`);
  }
  const signed = isSignedDomain(opu);
  const pairs = (n * (n - 1)) / 2;
  // Features: [1, (p_a for a) if {0,1}, p_a p_b for a < b].
  const p = 1 + (signed ? 0 : n) + pairs;
  const rng = makeRng(opts.seed, 'sysid-lifted');
  const chunk = defaultChunkRows(opu, opts);
  const eq = new NormalEquations(p, m);
  let done = 0;
  while (done < opts.queries) {
    const rows = Math.min(chunk, opts.queries - done);
    const pix = new Float32Array(rows * n);
    for (let i = 0; i < pix.length; i++) pix[i] = randomPixel(rng, signed);
    const design = new Float32Array(rows * p);
    for (let r = 0; r < rows; r++) {
      const row = pix.subarray(r * n, (r + 1) * n);
      let f = r * p;
      design[f++] = 1;
      if (!signed) for (let a = 0; a < n; a++) design[f++] = row[a];
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) design[f++] = row[a] * row[b];
    }
    const x = toLayerInput(opu, pix, rows);
    const y = opu.measure(x);
    x.dispose();
    eq.add(design, rows, y);
    y.dispose();
    done += rows;
  }
  const coef = eq.solve(opts.ridge ?? 1e-6);
  const rank = opu.mode === 'physical' ? 2 : 1;
  const factors = Array.from({ length: rank }, () => new Float32Array(n * m));
  const mat = new Float64Array(n * n);
  for (let j = 0; j < m; j++) {
    mat.fill(0);
    let f = 1;
    if (!signed) for (let a = 0; a < n; a++) mat[a * n + a] = coef[f++ * m + j];
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const v = coef[f++ * m + j] / 2;
        mat[a * n + b] = v;
        mat[b * n + a] = v;
      }
    }
    if (signed) completeRankOneDiagonal(mat, n);
    const { values, vectors } = symmetricEigen(mat, n);
    for (let k = 0; k < rank; k++) {
      const s = Math.sqrt(Math.max(values[k], 0));
      for (let a = 0; a < n; a++) factors[k][a * m + j] = s * vectors[a * n + k];
    }
  }
  return { method: 'lifted', mode: opu.mode, inFeatures: n, outFeatures: m, queries: opts.queries, factors, signs: null };
}

/** Fill the unknown diagonal of a rank-1 symmetric matrix from its off-diagonal part (alternating fits). */
function completeRankOneDiagonal(mat: Float64Array, n: number, iterations = 30): void {
  const u = new Float64Array(n).fill(1 / Math.sqrt(n));
  const next = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    // A few power steps for the top eigenpair of the current completion.
    let lambda = 0;
    for (let step = 0; step < 5; step++) {
      let norm = 0;
      for (let a = 0; a < n; a++) {
        let s = 0;
        for (let b = 0; b < n; b++) s += mat[a * n + b] * u[b];
        next[a] = s;
        norm += s * s;
      }
      norm = Math.sqrt(norm) || 1;
      lambda = 0;
      for (let a = 0; a < n; a++) lambda += u[a] * next[a];
      for (let a = 0; a < n; a++) u[a] = next[a] / norm;
    }
    for (let a = 0; a < n; a++) mat[a * n + a] = Math.max(lambda, 0) * u[a] * u[a];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Anchored differences (any n)

interface AnchorFit {
  /** Anchor pixel indices. */
  anchor: Int32Array;
  /** Free pixel indices (complement), in order; the fit's rows. */
  free: Int32Array;
  /** Linear coefficients [free.length, m] row-major. */
  v: Float32Array;
  /** Intercept per output [m]. */
  intercept: Float32Array;
}

function fitAnchor(opu: BlackBoxOpu, anchor: Int32Array, pairs: number, rng: Rng, opts: EstimateOptions): AnchorFit {
  const n = opu.inFeatures;
  const m = opu.outFeatures;
  const signed = isSignedDomain(opu);
  const inAnchor = new Uint8Array(n);
  for (const a of anchor) inAnchor[a] = 1;
  const free = Int32Array.from(Array.from({ length: n }, (_, i) => i).filter((i) => !inAnchor[i]));
  const f = free.length;
  const p = f + 1;
  const eq = new NormalEquations(p, m);
  const chunkPairs = Math.max(1, Math.floor(defaultChunkRows(opu, opts) / 2));
  const off = signed ? -1 : 0;
  let done = 0;
  while (done < pairs) {
    const rows = Math.min(chunkPairs, pairs - done);
    // Rows [0, rows): anchor ON (+1); rows [rows, 2 rows): anchor OFF (0, or -1 for signed input).
    const pix = new Float32Array(2 * rows * n);
    const design = new Float32Array(rows * p);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < f; k++) {
        const v = randomPixel(rng, signed);
        pix[r * n + free[k]] = v;
        pix[(rows + r) * n + free[k]] = v;
        design[r * p + k] = v;
      }
      design[r * p + f] = 1;
      for (const a of anchor) {
        pix[r * n + a] = 1;
        pix[(rows + r) * n + a] = off;
      }
    }
    const x = toLayerInput(opu, pix, 2 * rows);
    const y = opu.measure(x);
    x.dispose();
    const d = tf.tidy(() => tf.sub(tf.slice(y, [0, 0], [rows, -1]), tf.slice(y, [rows, 0], [rows, -1])) as tf.Tensor2D);
    y.dispose();
    eq.add(design, rows, d);
    d.dispose();
    done += rows;
  }
  const coef = eq.solve(opts.ridge ?? 1e-6);
  return { anchor, free, v: coef.subarray(0, f * m), intercept: coef.slice(f * m, (f + 1) * m) };
}

function anchoredEstimate(opu: BlackBoxOpu, opts: EstimateOptions): TransmissionEstimate {
  const n = opu.inFeatures;
  const m = opu.outFeatures;
  const K = opts.anchors ?? (n >= 16 ? DEFAULT_ANCHORS : Math.max(3, Math.floor(n / 2)));
  if (!Number.isInteger(K) || K < 3) throw new UserError(`anchors = ${K}: expected an integer >= 3`);
  const fraction = opts.anchorFraction ?? DEFAULT_ANCHOR_FRACTION;
  // The default size shrinks to fit small n_in; an explicit fraction is taken as given (and checked).
  const wanted = Math.max(1, Math.round(n * fraction));
  const size = opts.anchorFraction === undefined ? Math.max(1, Math.min(wanted, Math.floor(n / K))) : wanted;
  if (!(fraction > 0) || K * size > n) {
    throw new UserError(`anchorFraction = ${fraction} with ${K} anchors: expected K * round(n_in * fraction) <= n_in = ${n}`);
  }
  const pairsPerAnchor = Math.floor(opts.queries / (2 * K));
  if (pairsPerAnchor < 1) throw new UserError(`queries = ${opts.queries}: anchored identification needs at least ${2 * K}`);
  const rng = makeRng(opts.seed, 'sysid-anchored');
  const perm = rng.permutation(n);
  const fits: AnchorFit[] = [];
  for (let k = 0; k < K; k++) fits.push(fitAnchor(opu, perm.slice(k * size, (k + 1) * size), pairsPerAnchor, rng, opts));
  // Position of every pixel in each fit's free list (-1 inside the anchor).
  const pos = fits.map((fit) => {
    const idx = new Int32Array(n).fill(-1);
    fit.free.forEach((pixel, i) => (idx[pixel] = i));
    return idx;
  });
  const queries = 2 * K * pairsPerAnchor;
  const signed = isSignedDomain(opu);
  // Sketch Y = M S with S = [1_{A_1} .. 1_{A_K}]: {0,1} pixels give v^k = 2 (M 1_{A_k}) off A_k; {-1,+1} input
  // gives u^k = 4 (M 1_{A_k}) off A_k (M = alpha w w^T).
  const yScale = signed ? 1 / 4 : 1 / 2;
  const rank = opu.mode === 'physical' ? 2 : 1;
  const factors = nystromFactors(fits, pos, n, m, rank, yScale, !signed, !signed && readoutsSumToZero(fits, m));
  return { method: 'anchored', mode: opu.mode, inFeatures: n, outFeatures: m, queries, factors, signs: null };
}

/**
 * Nystrom reconstruction of every M_j (rank r) from its sketch Y = M S and core G = S^T M S (Gittens & Mahoney
 * 2016): factor G ~ C^T C with the top-r eigenpairs (C: r x K, determined up to a rotation that leaves M
 * unchanged), then solve each pixel's factor row u_b from Y_bk = u_b . C_k over the anchors not containing b.
 * The off-diagonal core entries are sums of measured sketch entries (G_kl = sum over A_l of Y_bk, averaged with
 * its transpose); the diagonal is the measured |c_k|^2 (intercepts) or, without intercepts, completed as rank-1.
 */
function nystromFactors(
  fits: AnchorFit[],
  pos: Int32Array[],
  n: number,
  m: number,
  rank: number,
  yScale: number,
  diagonalMeasured: boolean,
  meanSubtracted: boolean,
): Float32Array[] {
  const K = fits.length;
  const factors = Array.from({ length: rank }, () => new Float32Array(n * m));
  const g = new Float64Array(K * K);
  const c = new Float64Array(rank * K);
  const y = (k: number, pixel: number, j: number): number => fits[k].v[pos[k][pixel] * m + j] * yScale;
  const normal = new Float64Array(rank * rank);
  const rhs = new Float64Array(rank);
  const fillCore = (j: number): void => {
    g.fill(0);
    for (let k = 0; k < K; k++) {
      for (let l = 0; l < K; l++) {
        if (k === l) continue;
        let s = 0;
        for (const b of fits[l].anchor) s += y(k, b, j);
        g[k * K + l] += s / 2;
        g[l * K + k] += s / 2;
      }
    }
    if (diagonalMeasured) for (let k = 0; k < K; k++) g[k * K + k] = fits[k].intercept[j];
    else rankOneCoreDiagonal(g, K);
  };
  // A readout minus its own mean over the outputs measures M_j - mean_k M_k. For a random transmission matrix
  // mean_k M_k is close to c I, which is invisible off the anchors but puts -c |A_k| on the core's diagonal, so the
  // core is rank r minus a multiple of the identity: its K - r smallest eigenvalues all sit near -c |A_k|. Their
  // mean over every output estimates the offset, added back before the rank-r factorisation. (What is left of the
  // common part cancels in the gradient, whose mean subtraction is differentiated: opu.ts 'estimated'.)
  const shift = meanSubtracted && K > rank ? -meanTrailingEigenvalue(m, K, rank, (j) => (fillCore(j), g)) : 0;
  for (let j = 0; j < m; j++) {
    fillCore(j);
    if (shift !== 0) for (let k = 0; k < K; k++) g[k * K + k] += shift;
    const { values, vectors } = symmetricEigen(g, K);
    for (let r = 0; r < rank; r++) {
      const s = Math.sqrt(Math.max(values[r], 0));
      for (let k = 0; k < K; k++) c[r * K + k] = s * vectors[k * K + r];
    }
    // Per pixel: least squares u_b C_k = Y_bk over the anchors not containing b, with a tiny ridge.
    let scale = 0;
    for (let i = 0; i < rank * K; i++) scale += c[i] * c[i];
    const ridge = 1e-9 * scale;
    for (let b = 0; b < n; b++) {
      normal.fill(0);
      rhs.fill(0);
      for (let k = 0; k < K; k++) {
        if (pos[k][b] < 0) continue;
        const t = y(k, b, j);
        for (let r = 0; r < rank; r++) {
          rhs[r] += c[r * K + k] * t;
          for (let q = 0; q < rank; q++) normal[r * rank + q] += c[r * K + k] * c[q * K + k];
        }
      }
      for (let r = 0; r < rank; r++) normal[r * rank + r] += ridge;
      const u = solveSmall(normal, rhs, rank);
      for (let r = 0; r < rank; r++) factors[r][b * m + j] = u[r];
    }
  }
  return factors;
}

/** Mean over the m cores of their K - rank smallest eigenvalues (anchors of equal size assumed, as drawn). */
function meanTrailingEigenvalue(m: number, K: number, rank: number, core: (j: number) => Float64Array): number {
  let sum = 0;
  for (let j = 0; j < m; j++) {
    const { values } = symmetricEigen(core(j), K);
    for (let k = rank; k < K; k++) sum += values[k];
  }
  return sum / (m * (K - rank));
}

/**
 * Whether the black box's readouts sum to zero over its outputs, as a camera that subtracts each readout's mean
 * makes them (`hardwareNormalize: 'sample-mean'`). The fitted coefficients are linear in the readouts, so each
 * anchor's intercepts then sum to zero too, up to rounding; a camera without it gives positive ones.
 */
function readoutsSumToZero(fits: AnchorFit[], m: number): boolean {
  return fits.every((fit) => {
    let sum = 0;
    let abs = 0;
    for (let j = 0; j < m; j++) {
      sum += fit.intercept[j];
      abs += Math.abs(fit.intercept[j]);
    }
    return abs > 0 && Math.abs(sum) < 1e-3 * abs;
  });
}

/**
 * Diagonal of a rank-1 core G = c c^T from its off-diagonal entries: G_kk = G_kl G_km / G_lm, using the
 * best-conditioned pair (l, m) (largest |G_lm|) not involving k.
 */
function rankOneCoreDiagonal(g: Float64Array, K: number): void {
  for (let k = 0; k < K; k++) {
    let best = 0;
    let value = 0;
    for (let l = 0; l < K; l++) {
      for (let q = l + 1; q < K; q++) {
        if (l === k || q === k) continue;
        const glq = g[l * K + q];
        if (Math.abs(glq) > best) {
          best = Math.abs(glq);
          value = (g[k * K + l] * g[k * K + q]) / glq;
        }
      }
    }
    g[k * K + k] = Math.max(value, 0);
  }
}

/** Solve a 1x1 or 2x2 linear system (zero solution when singular). */
function solveSmall(a: Float64Array, b: Float64Array, size: number): number[] {
  if (size === 1) return [a[0] > 0 ? b[0] / a[0] : 0];
  const det = a[0] * a[3] - a[1] * a[2];
  if (!(Math.abs(det) > 0)) return [0, 0];
  return [(a[3] * b[0] - a[1] * b[1]) / det, (a[0] * b[1] - a[2] * b[0]) / det];
}

/** Estimate the black box's transmission factors from `queries` measurements. */
export function estimateTransmission(opu: BlackBoxOpu, opts: EstimateOptions): TransmissionEstimate {
  if (!Number.isInteger(opts.queries) || opts.queries < 1) {
    throw new UserError(`sysid queries = ${opts.queries}: expected a positive integer`);
  }
  if (!Number.isInteger(opts.seed)) throw new UserError(`sysid seed = ${opts.seed}: expected an integer`);
  const method = opts.method ?? 'auto';
  if (!['auto', 'lifted', 'anchored'].includes(method)) {
    throw new UserError(`sysid method '${String(method)}': expected auto, lifted or anchored`);
  }
  const useLifted = method === 'lifted' || (method === 'auto' && opu.inFeatures <= LIFTED_AUTO_MAX_IN);
  return useLifted ? liftedEstimate(opu, opts) : anchoredEstimate(opu, opts);
}
