/**
 * Square Attack (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020), L-inf and L2, score-based.
 *
 * Random search on the margin loss: each step proposes a change inside one random square window (side set
 * by the piecewise-constant schedule p(t) of the fraction of pixels changed) and keeps it when the margin
 * decreases. L-inf: vertical-stripe initialisation, window filled with a per-channel ±eps colour.
 * L2: a grid of "meta pseudo-Gaussian" bumps as initialisation; each step moves the perturbation mass of a
 * second window into a new bump on the first window, keeping ||delta||_2 = eps. Written after the authors'
 * algorithm description and public code (max-andr/square-attack); one query per step.
 *
 * Threat model: score-based black box (logits of each query). Norm: L-inf or L2. Defaults: norm linf, 5000 queries
 * per example (the clean query included), pInit 0.8 (AutoAttack).
 *
 *   const attack = createAttack('square', { norm: 'l2', maxQueries: 1000 });  // opulab attack --attack square --norm l2 --queries 1000
 *   const [outcome] = await attack.run(model, x, labels, [0.5], { seed: 0 });   // outcome.queries: per example
 */
import type { AttackFacts, Norm } from '../../src/types';
import { queryFacts, type AttackDefinition } from '../definition';
import { NORM_PARAM, ParamSchema, int, num, type RawParams } from '../params';
import { QueryAttack, type ExampleProgram, type ExampleTask, type ScoreReply } from './engine';
import { clip01, l2Norm } from './pixels';

export interface SquareParams {
  norm: Norm;
  /** Per-example query budget (clean query included). AutoAttack: 5000. */
  maxQueries: number;
  /** Initial fraction of pixels changed per step. AutoAttack uses 0.8; the paper's standard models 0.05 (L-inf) / 0.1 (L2). */
  pInit: number;
  /** Memory guard for the model call (0 = one call per step). */
  maxRowsPerCall: number;
}

export const SQUARE_DEFAULTS: SquareParams = { norm: 'linf', maxQueries: 5000, pInit: 0.8, maxRowsPerCall: 0 };

export const SQUARE_PARAMS = new ParamSchema('square', {
  norm: NORM_PARAM,
  maxQueries: int({ default: SQUARE_DEFAULTS.maxQueries, min: 1, description: 'per-example query budget, the clean query included (AutoAttack: 5000)' }),
  pInit: num({ default: SQUARE_DEFAULTS.pInit, min: 1e-6, max: 1, description: 'initial fraction of pixels changed per step (AutoAttack 0.8; the paper 0.05 L-inf, 0.1 L2)' }),
  maxRowsPerCall: int({ default: 0, min: 0, description: 'rows per model call, a memory guard (0: one call per round)' }),
});

export function parseSquareParams(raw: RawParams): SquareParams {
  return SQUARE_PARAMS.parse(raw);
}

function squareFacts(p: { maxQueries: number }): AttackFacts {
  return queryFacts({ threat: 'black-box-score', norms: ['linf', 'l2'], queryBudget: p.maxQueries, loss: 'margin' });
}

/** The paper's schedule: p halves at fixed fractions of the query budget (iteration rescaled to 10,000). */
export function pSchedule(pInit: number, iteration: number, totalIterations: number): number {
  const it = Math.floor((iteration / totalIterations) * 10000);
  const cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000, 10000];
  for (let k = 0; k + 1 < cuts.length; k++) {
    if (it > cuts[k] && it <= cuts[k + 1]) return pInit / 2 ** (k + 1);
  }
  return pInit;
}

export class SquareAttack extends QueryAttack<SquareParams, ScoreReply> {
  readonly name = 'square';
  readonly threat = 'black-box-score' as const;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    const p = parseSquareParams(params);
    super(p, p.norm, { loss: 'margin' }, 'scores');
    this.facts = squareFacts(p);
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return this.p.norm === 'linf' ? squareLinf(task, this.p) : squareL2(task, this.p);
  }

  protected override streamLabel(): string {
    return `square-${this.p.norm}`;
  }
}

export const SQUARE: AttackDefinition = {
  name: 'square',
  description: 'Square Attack random search, L-inf or L2, score-based (Andriushchenko et al. 2020)',
  params: SQUARE_PARAMS,
  create: (params = {}) => new SquareAttack(params),
  facts: (recorded) => squareFacts(SQUARE_PARAMS.read(recorded)),
};

function* squareLinf(task: ExampleTask, p: SquareParams): ExampleProgram<ScoreReply> {
  const { x0, eps, rng, height: h, width: w, channels: c, dim } = task;
  // Vertical stripes: one random ±eps per (column, channel), constant along the height.
  const delta = new Float32Array(dim);
  for (let j = 0; j < w; j++) {
    for (let k = 0; k < c; k++) {
      const s = rng.uniform() < 0.5 ? -eps : eps;
      for (let i = 0; i < h; i++) delta[(i * w + j) * c + k] = s;
    }
  }
  let best = new Float32Array(dim);
  for (let j = 0; j < dim; j++) best[j] = clip01(x0[j] + delta[j]);
  if (task.remaining() < 1) return { adversarial: x0.slice(), success: false };
  let reply = yield [best];
  let bestMargin = task.margin(reply, 0);
  if (task.reached(reply.predictions[0])) return { adversarial: best, success: true, successRow: 0, loss: bestMargin, prediction: reply.predictions[0] };
  let bestPred = reply.predictions[0];
  // Per step the proposal is clip(x0 + delta) with delta = best - x0 outside the window: those values depend on
  // `best` only, so they are computed once per accepted step (bestDelta, base) and each proposal rewrites its window.
  const bestDelta = new Float32Array(dim);
  const base = new Float32Array(dim);
  const rebase = (): void => {
    for (let j = 0; j < dim; j++) bestDelta[j] = best[j] - x0[j];
    for (let j = 0; j < dim; j++) base[j] = clip01(x0[j] + bestDelta[j]);
  };
  rebase();

  for (let it = 0; task.remaining() >= 1; it++) {
    const frac = pSchedule(p.pInit, it, p.maxQueries);
    const s = Math.min(Math.max(Math.round(Math.sqrt(frac * h * w)), 1), Math.max(h - 1, 1), Math.max(w - 1, 1));
    const top = rng.int(Math.max(h - s, 1));
    const left = rng.int(Math.max(w - s, 1));
    // delta = best - x0 (the clipped perturbation); resample the window colour until it changes the image.
    delta.set(bestDelta);
    for (let tries = 0; tries < 20 && windowUnchanged(x0, delta, best, top, left, s, w, c); tries++) {
      for (let k = 0; k < c; k++) {
        const v = rng.uniform() < 0.5 ? -eps : eps;
        for (let i = top; i < top + s; i++) for (let j = left; j < left + s; j++) delta[(i * w + j) * c + k] = v;
      }
    }
    const cand = base.slice();
    for (let i = top; i < top + s; i++) {
      for (let q = (i * w + left) * c, end = (i * w + left + s) * c; q < end; q++) cand[q] = clip01(x0[q] + delta[q]);
    }
    reply = yield [cand];
    const m = task.margin(reply, 0);
    if (task.reached(reply.predictions[0])) return { adversarial: cand, success: true, successRow: 0, loss: m, prediction: reply.predictions[0] };
    if (m < bestMargin) {
      best = cand;
      bestMargin = m;
      bestPred = reply.predictions[0];
      rebase();
    }
  }
  return { adversarial: best, success: false, loss: bestMargin, prediction: bestPred };
}

function windowUnchanged(
  x0: Float32Array,
  delta: Float32Array,
  best: Float32Array,
  top: number,
  left: number,
  s: number,
  w: number,
  c: number,
): boolean {
  for (let i = top; i < top + s; i++) {
    for (let j = left; j < left + s; j++) {
      for (let k = 0; k < c; k++) {
        const q = (i * w + j) * c + k;
        if (Math.abs(clip01(x0[q] + delta[q]) - best[q]) >= 1e-7) return false;
      }
    }
  }
  return true;
}

/** A rows x cols bump: nested rectangles weighted 1/(r+1)^2 around the centre, unit L2 norm. */
function pseudoGaussianRect(rows: number, cols: number): Float64Array {
  const d = new Float64Array(rows * cols);
  if (rows === 0 || cols === 0) return d;
  const xc = Math.floor(rows / 2) + 1;
  const yc = Math.floor(cols / 2) + 1;
  let a = xc - 1;
  let b = yc - 1;
  for (let r = 0; r < Math.max(xc, yc); r++) {
    for (let i = Math.max(a, 0); i < Math.min(a + 2 * r + 1, rows); i++) {
      for (let j = Math.max(b, 0); j < Math.min(b + 2 * r + 1, cols); j++) d[i * cols + j] += 1 / (r + 1) ** 2;
    }
    a--;
    b--;
  }
  const n = l2Norm(d);
  for (let i = 0; i < d.length; i++) d[i] /= n;
  return d;
}

/** s x s: a bump on the top half and a negated bump on the bottom half, randomly transposed; unit norm. */
export function metaPseudoGaussian(s: number, flip: boolean): Float64Array {
  const d = new Float64Array(s * s);
  const half = Math.floor(s / 2);
  const upper = pseudoGaussianRect(half, s);
  const lower = pseudoGaussianRect(s - half, s);
  d.set(upper, 0);
  for (let i = 0; i < lower.length; i++) d[half * s + i] = -lower[i];
  const n = l2Norm(d);
  for (let i = 0; i < d.length; i++) d[i] /= n;
  if (!flip) return d;
  const t = new Float64Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = d[i * s + j];
  return t;
}

function* squareL2(task: ExampleTask, p: SquareParams): ExampleProgram<ScoreReply> {
  const { x0, eps, rng, height: h, width: w, channels: c, dim } = task;
  const at = (i: number, j: number, k: number): number => (i * w + j) * c + k;
  // Initialisation: a grid of bumps of side h/5, each with a random sign per channel.
  const delta = new Float64Array(dim);
  const s0 = Math.max(Math.floor(h / 5), 1);
  const start = Math.floor((h - s0 * 5) / 2);
  for (let gi = 0; gi < Math.floor(h / s0); gi++) {
    for (let gj = 0; gj < Math.floor(w / s0); gj++) {
      const bump = metaPseudoGaussian(s0, rng.uniform() > 0.5);
      const top = start + gi * s0;
      const left = start + gj * s0;
      for (let k = 0; k < c; k++) {
        const sign = rng.uniform() < 0.5 ? -1 : 1;
        for (let i = 0; i < s0; i++) {
          for (let j = 0; j < s0; j++) {
            if (top + i < h && left + j < w) delta[at(top + i, left + j, k)] += sign * bump[i * s0 + j];
          }
        }
      }
    }
  }
  const toImage = (d: Float64Array): Float32Array => {
    const n = l2Norm(d);
    const out = new Float32Array(dim);
    for (let j = 0; j < dim; j++) out[j] = clip01(x0[j] + (n > 0 ? (d[j] / n) * eps : 0));
    return out;
  };
  let best = toImage(delta);
  if (task.remaining() < 1) return { adversarial: x0.slice(), success: false };
  let reply = yield [best];
  let bestMargin = task.margin(reply, 0);
  let bestPred = reply.predictions[0];
  if (task.reached(bestPred)) return { adversarial: best, success: true, successRow: 0, loss: bestMargin, prediction: bestPred };

  const cur = new Float64Array(dim);
  for (let it = 0; task.remaining() >= 1; it++) {
    for (let j = 0; j < dim; j++) cur[j] = best[j] - x0[j];
    const frac = pSchedule(p.pInit, it, p.maxQueries);
    let s = Math.max(Math.round(Math.sqrt(frac * h * w)), 3);
    if (s % 2 === 0) s += 1;
    const maxSide = Math.min(h, w) - 1;
    if (s > maxSide) s = maxSide % 2 === 1 ? maxSide : maxSide - 1;
    s = Math.max(s, 1);
    const t1 = rng.int(h - s);
    const l1 = rng.int(w - s);
    const t2 = rng.int(h - s);
    const l2 = rng.int(w - s);
    const in1 = (i: number, j: number): boolean => i >= t1 && i < t1 + s && j >= l1 && j < l1 + s;
    const in2 = (i: number, j: number): boolean => i >= t2 && i < t2 + s && j >= l2 && j < l2 + s;
    const imageNorm2 = l2Norm(cur) ** 2;
    const bump = metaPseudoGaussian(s, rng.uniform() > 0.5);
    const newWin = new Float64Array(s * s * c);
    for (let k = 0; k < c; k++) {
      // Per channel: the norm in window 1, and in the union of both windows (mass that will be redistributed).
      let w1 = 0;
      let union = 0;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const v = cur[at(i, j, k)] ** 2;
          if (in1(i, j)) w1 += v;
          if (in1(i, j) || in2(i, j)) union += v;
        }
      }
      const w1n = Math.sqrt(w1);
      const sign = rng.uniform() < 0.5 ? -1 : 1;
      let nn = 0;
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          const v = sign * bump[i * s + j] + cur[at(t1 + i, l1 + j, k)] / (1e-10 + w1n);
          newWin[(i * s + j) * c + k] = v;
          nn += v * v;
        }
      }
      const target = Math.sqrt(Math.max(eps * eps - imageNorm2, 0) / c + union);
      const scale = nn > 0 ? target / Math.sqrt(nn) : 0;
      for (let q = 0; q < s * s; q++) newWin[q * c + k] *= scale;
    }
    for (let i = t2; i < t2 + s; i++) for (let j = l2; j < l2 + s; j++) for (let k = 0; k < c; k++) cur[at(i, j, k)] = 0;
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) for (let k = 0; k < c; k++) cur[at(t1 + i, l1 + j, k)] = newWin[(i * s + j) * c + k];
    const cand = toImage(cur);
    reply = yield [cand];
    const m = task.margin(reply, 0);
    if (task.reached(reply.predictions[0])) return { adversarial: cand, success: true, successRow: 0, loss: m, prediction: reply.predictions[0] };
    if (m < bestMargin) {
      best = cand;
      bestMargin = m;
      bestPred = reply.predictions[0];
    }
  }
  return { adversarial: best, success: false, loss: bestMargin, prediction: bestPred };
}
