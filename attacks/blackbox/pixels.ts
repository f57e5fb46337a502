/**
 * JS-side helpers for black-box attacks, which keep one image per example as a flat NHWC Float32Array
 * (H*W*C values in [0,1]): margins and predictions from a logits row, norms and eps-ball projections.
 * Working on typed arrays keeps per-example control flow simple and creates no tensors (the query
 * counter makes exactly one tensor per model call).
 */
import type { Norm } from '../../src/types';

/**
 * Attack margin from logits (lower is better for the attacker; < 0 means the goal is reached except on
 * exact ties): untargeted z_y - max_{j != y} z_j, targeted max_{j != t} z_j - z_t. Margins on logits, not
 * probabilities (docs/method.md §6, C12).
 */
export function marginFromLogits(
  logits: ArrayLike<number>,
  offset: number,
  numClasses: number,
  label: number,
  target?: number,
): number {
  const cls = target ?? label;
  let other = -Infinity;
  for (let j = 0; j < numClasses; j++) {
    if (j !== cls && logits[offset + j] > other) other = logits[offset + j];
  }
  const z = logits[offset + cls];
  return target === undefined ? z - other : other - z;
}

export function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** ||a - b|| in the given norm. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>, norm: Norm): number {
  let acc = 0;
  if (norm === 'linf') {
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (d > acc) acc = d;
    }
    return acc;
  }
  for (let i = 0; i < a.length; i++) acc += (a[i] - b[i]) * (a[i] - b[i]);
  return Math.sqrt(acc);
}

export function l2Norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** out = clip01(clamp(cand, x0 - eps, x0 + eps)): the exact L-inf projection onto ball ∩ [0,1]. */
export function projectLinfInto(out: Float32Array, cand: ArrayLike<number>, x0: ArrayLike<number>, eps: number): Float32Array {
  for (let i = 0; i < out.length; i++) {
    const lo = x0[i] - eps;
    const hi = x0[i] + eps;
    const v = cand[i] < lo ? lo : cand[i] > hi ? hi : cand[i];
    out[i] = clip01(v);
  }
  return out;
}

/** out = clip01(x0 + delta * min(1, eps/||delta||_2)), delta = cand - x0 (stays in the ball; see projection.ts). */
export function projectL2Into(out: Float32Array, cand: ArrayLike<number>, x0: ArrayLike<number>, eps: number): Float32Array {
  const n = distance(cand, x0, 'l2');
  const f = n > eps ? eps / n : 1;
  for (let i = 0; i < out.length; i++) out[i] = clip01(x0[i] + (cand[i] - x0[i]) * f);
  return out;
}

export function projectInto(norm: Norm, out: Float32Array, cand: ArrayLike<number>, x0: ArrayLike<number>, eps: number): Float32Array {
  return norm === 'linf' ? projectLinfInto(out, cand, x0, eps) : projectL2Into(out, cand, x0, eps);
}

/** Nearest-neighbour upsampling of an [ph, pw, c] grid to [h, w, c] (PyTorch 'nearest': src = floor(i*ph/h)). */
export function upsampleNearest(
  grid: ArrayLike<number>,
  ph: number,
  pw: number,
  h: number,
  w: number,
  c: number,
  out: Float32Array,
): Float32Array {
  for (let i = 0; i < h; i++) {
    const si = Math.floor((i * ph) / h);
    for (let j = 0; j < w; j++) {
      const sj = Math.floor((j * pw) / w);
      const src = (si * pw + sj) * c;
      const dst = (i * w + j) * c;
      for (let k = 0; k < c; k++) out[dst + k] = grid[src + k];
    }
  }
  return out;
}
