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
 *
 * Threat model: score-based black box. Norm: L-inf only (no norm parameter). Defaults (the docs/method.md protocol):
 * 15,000 queries per example, 16x16 prior, fdEta 0.1, exploration 0.1, image lr 0.01, online lr 0.1.
 *
 *   const attack = createAttack('bandits', { maxQueries: 3000 });  // opulab attack --attack bandits --queries 3000
 *   const [outcome] = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
 */

import type { AttackFacts } from '../../src/types';
import { queryFacts, type AttackDefinition } from '../definition';
import { ParamSchema, int, num, type RawParams } from '../params';
import { QueryAttack, type ExampleProgram, type ExampleTask, type ScoreReply } from './engine';
import { clip01, l2Norm, projectLinfInto, upsampleNearest } from './pixels';

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

export const BANDITS_PARAMS = new ParamSchema('bandits', {
  maxQueries: int({ default: BANDITS_DEFAULTS.maxQueries, min: 1, description: 'per-example query budget, the clean query included' }),
  priorSize: int({ default: BANDITS_DEFAULTS.priorSize, min: 1, description: 'side of the square prior grid (data prior), clamped to the image' }),
  fdEta: num({ default: BANDITS_DEFAULTS.fdEta, min: 0, minExclusive: true, description: 'finite-difference step (L2 norm of the probe)' }),
  exploration: num({ default: BANDITS_DEFAULTS.exploration, min: 0, minExclusive: true, description: 'exploration scale of the prior perturbation' }),
  imageLr: num({ default: BANDITS_DEFAULTS.imageLr, min: 0, minExclusive: true, description: 'signed image step per iteration, pixel units' }),
  onlineLr: num({ default: BANDITS_DEFAULTS.onlineLr, min: 0, minExclusive: true, description: 'learning rate of the prior (exponentiated gradients)' }),
  maxRowsPerCall: int({ default: 0, min: 0, description: 'rows per model call, a memory guard (0: one call per round)' }),
});

export function parseBanditsParams(raw: RawParams): BanditsParams {
  return BANDITS_PARAMS.parse(raw);
}

function banditsFacts(p: { maxQueries: number }): AttackFacts {
  return queryFacts({ threat: 'black-box-score', norms: ['linf'], queryBudget: p.maxQueries, loss: 'margin' });
}

export class BanditsAttack extends QueryAttack<BanditsParams, ScoreReply> {
  readonly name = 'bandits';
  readonly threat = 'black-box-score' as const;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    const p = parseBanditsParams(params);
    super(p, 'linf', { loss: 'margin', priors: 'time+data(tiling)' }, 'scores');
    this.facts = banditsFacts(p);
  }

  /** Rows after the first are finite-difference probes: only the iterate (row 0) can be a success. */
  protected override successRows(): 'first' {
    return 'first';
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return banditsProgram(task, this.p);
  }
}

export const BANDITS: AttackDefinition = {
  name: 'bandits',
  description: 'Bandits-TD with time and data priors, L-inf, score-based (Ilyas et al. 2019)',
  params: BANDITS_PARAMS,
  create: (params = {}) => new BanditsAttack(params),
  facts: (recorded) => banditsFacts(BANDITS_PARAMS.read(recorded)),
};

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
