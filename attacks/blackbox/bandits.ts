/**
 * Bandits-TD (Ilyas, Engstrom, Madry, "Prior Convictions", ICLR 2019), L-inf, score-based.
 *
 * A latent gradient prior v (the "bandit" action) lives on a coarse [P, P, C] grid (data prior: tiling,
 * nearest-upsampled to the image) and persists across steps (time prior). Each step:
 *   u ~ exploration * N(0, I) / sqrt(dim(v));  q± = up(v ± u)
 *   Δ = [L(x + fdEta q+/||q+||) - L(x + fdEta q-/||q-||)] / (fdEta * exploration)
 *   v <- EG step of v with gradient Δ·u and rate onlineLr  (exponentiated gradients on (v+1)/2)
 *   x <- Proj_eps(x + imageLr * sign(up(v)))
 * with L = -margin (maximised). Following MadryLab/blackbox-bandits. Each step is ONE request of 3 rows:
 * the current iterate (success check) and the two finite-difference points — the reference code does not
 * count the success check; this implementation counts every row. Finite-difference points are clipped to
 * [0,1] (the Classifier contract).
 */

import { UserError } from '../../src/util/errors';
import { QueryAttack, type ExampleProgram, type ExampleTask, type ScoreReply } from './engine';
import { clip01, l2Norm, projectLinfInto, upsampleNearest } from './pixels';
import { checkKnownKeys, integer, positive, type RawParams } from './params';

export interface BanditsParams {
  maxQueries: number;
  /** Side of the square prior grid (tiling data prior); clamped to the image size. */
  priorSize: number;
  /** Finite-difference step (L2 norm of the probe). */
  fdEta: number;
  /** Exploration scale of the prior perturbation. */
  exploration: number;
  /** Signed image step in pixel units. */
  imageLr: number;
  /** Learning rate of the prior's exponentiated-gradient update. */
  onlineLr: number;
  maxRowsPerCall: number;
}

/** docs/method.md §5 settings (Cappelli et al. protocol): 15,000 queries, 16x16 prior, exploration 0.1, lrs 0.01/0.1. */
export const BANDITS_REFERENCE: BanditsParams = {
  maxQueries: 15000,
  priorSize: 16,
  fdEta: 0.1,
  exploration: 0.1,
  imageLr: 0.01,
  onlineLr: 0.1,
  maxRowsPerCall: 0,
};

export const BANDITS_DEFAULTS: BanditsParams = BANDITS_REFERENCE;

export function parseBanditsParams(raw: RawParams): BanditsParams {
  checkKnownKeys('bandits', raw, Object.keys(BANDITS_DEFAULTS));
  if (raw.norm !== undefined && raw.norm !== 'linf') throw new UserError(`bad bandits parameter norm=${String(raw.norm)}: expected linf`);
  const d = BANDITS_DEFAULTS;
  return {
    maxQueries: integer('bandits', raw, 'maxQueries', d.maxQueries, 1),
    priorSize: integer('bandits', raw, 'priorSize', d.priorSize, 1),
    fdEta: positive('bandits', raw, 'fdEta', d.fdEta),
    exploration: positive('bandits', raw, 'exploration', d.exploration),
    imageLr: positive('bandits', raw, 'imageLr', d.imageLr),
    onlineLr: positive('bandits', raw, 'onlineLr', d.onlineLr),
    maxRowsPerCall: integer('bandits', raw, 'maxRowsPerCall', 0, 0),
  };
}

export class BanditsAttack extends QueryAttack<BanditsParams, ScoreReply> {
  readonly name = 'bandits';
  readonly threat = 'black-box-score' as const;

  constructor(params: RawParams = {}) {
    super(parseBanditsParams(params), 'linf', { loss: 'margin', priors: 'time+data(tiling)' }, 'scores');
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return banditsProgram(task, this.p);
  }
}

/** Exponentiated-gradient step on v in [-1, 1] (mirror descent on (v+1)/2), as in the reference code. */
function egStep(v: Float32Array, g: Float64Array, lr: number): void {
  for (let i = 0; i < v.length; i++) {
    const real = (v[i] + 1) / 2;
    const pos = real * Math.exp(lr * g[i]);
    const neg = (1 - real) * Math.exp(-lr * g[i]);
    v[i] = (pos / (pos + neg)) * 2 - 1;
  }
}

function* banditsProgram(task: ExampleTask, p: BanditsParams): ExampleProgram<ScoreReply> {
  const { x0, eps, rng, height: h, width: w, channels: c, dim } = task;
  const ph = Math.min(p.priorSize, h);
  const pw = Math.min(p.priorSize, w);
  const priorDim = ph * pw * c;
  const prior = new Float32Array(priorDim);
  const u = new Float32Array(priorDim);
  const shifted = new Float32Array(priorDim);
  const q = new Float32Array(dim);
  const g = new Float64Array(priorDim);
  const up = new Float32Array(dim);
  let x = x0.slice();
  let last: { margin: number; pred: number } | undefined;

  const probe = (sign: 1 | -1): Float32Array => {
    for (let i = 0; i < priorDim; i++) shifted[i] = prior[i] + sign * u[i];
    upsampleNearest(shifted, ph, pw, h, w, c, q);
    const n = l2Norm(q) || 1e-8;
    const out = new Float32Array(dim);
    for (let j = 0; j < dim; j++) out[j] = clip01(x[j] + (p.fdEta * q[j]) / n);
    return out;
  };

  while (task.remaining() >= 1) {
    const full = task.remaining() >= 3;
    const rows: Float32Array[] = [x];
    if (full) {
      const scale = p.exploration / Math.sqrt(priorDim);
      for (let i = 0; i < priorDim; i++) u[i] = scale * rng.normal();
      rows.push(probe(1), probe(-1));
    }
    const reply = yield rows;
    const m0 = task.margin(reply, 0);
    last = { margin: m0, pred: reply.predictions[0] };
    if (task.reached(reply.predictions[0])) return { adversarial: x, success: true, successRow: 0, loss: m0, prediction: last.pred };
    if (!full) break;
    // Loss = -margin (maximised).
    const deriv = (-task.margin(reply, 1) + task.margin(reply, 2)) / (p.fdEta * p.exploration);
    for (let i = 0; i < priorDim; i++) g[i] = deriv * u[i];
    egStep(prior, g, p.onlineLr);
    upsampleNearest(prior, ph, pw, h, w, c, up);
    const next = new Float32Array(dim);
    for (let j = 0; j < dim; j++) next[j] = x[j] + p.imageLr * Math.sign(up[j]);
    x = projectLinfInto(next, next, x0, eps);
    last = undefined;
  }
  return { adversarial: x, success: false, loss: last?.margin, prediction: last?.pred };
}
