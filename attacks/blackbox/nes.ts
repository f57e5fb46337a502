/**
 * NES attack (Ilyas, Engstrom, Athalye, Lin, ICML 2018), L-inf, score-based.
 *
 * Natural-evolution-strategies gradient estimate of the margin loss with antithetic Gaussian sampling,
 *   g = 1/(n sigma) * sum_{i<n/2} [L(x + sigma u_i) - L(x - sigma u_i)] u_i,   u_i ~ N(0, I),
 * followed by a PGD-style signed step x <- Proj_{eps}(x - lr * sign(g)) (the margin is minimised).
 * Each step is one request of 1 + n rows: the current iterate (its success is checked) and the n samples.
 *
 * Threat model: score-based black box. Norm: L-inf only (no norm parameter). Defaults: 10,000 queries per example,
 * 50 samples, sigma 0.01, step 0.01 (pixel units).
 *
 *   const attack = createAttack('nes', { maxQueries: 2000 });  // opulab attack --attack nes --queries 2000 --eps 8/255
 *   const [outcome] = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
 */

import type { AttackFacts } from '../../src/types';
import { queryFacts, type AttackDefinition } from '../definition';
import { ParamSchema, int, num, type RawParams } from '../params';
import { QueryAttack, type ExampleProgram, type ExampleTask, type ScoreReply } from './engine';
import { clip01, projectLinfInto } from './pixels';

export interface NesParams {
  /** Per-example query budget, clean query included. */
  maxQueries: number;
  /** Samples per gradient estimate (even: antithetic pairs). */
  samples: number;
  /** Exploration (finite-difference) standard deviation in pixel units. */
  sigma: number;
  /** Signed step size in pixel units (the reference NES/Bandits image lr: 0.01). */
  stepSize: number;
  maxRowsPerCall: number;
}

export const NES_DEFAULTS: NesParams = { maxQueries: 10000, samples: 50, sigma: 0.01, stepSize: 0.01, maxRowsPerCall: 0 };

export const NES_PARAMS = new ParamSchema('nes', {
  maxQueries: int({ default: NES_DEFAULTS.maxQueries, min: 1, description: 'per-example query budget, the clean query included' }),
  samples: int({ default: NES_DEFAULTS.samples, min: 2, even: true, description: 'samples per gradient estimate (antithetic pairs)' }),
  sigma: num({ default: NES_DEFAULTS.sigma, min: 0, minExclusive: true, description: 'exploration standard deviation, pixel units' }),
  stepSize: num({ default: NES_DEFAULTS.stepSize, min: 0, minExclusive: true, description: 'signed step per iteration (pixel units; a stepSize you give is in the units of eps)' }),
  maxRowsPerCall: int({ default: 0, min: 0, description: 'rows per model call, a memory guard (0: one call per round)' }),
});

export function parseNesParams(raw: RawParams): NesParams {
  return NES_PARAMS.parse(raw);
}

function nesFacts(p: { maxQueries: number }): AttackFacts {
  return queryFacts({ threat: 'black-box-score', norms: ['linf'], queryBudget: p.maxQueries, loss: 'margin' });
}

export class NesAttack extends QueryAttack<NesParams, ScoreReply> {
  readonly name = 'nes';
  readonly threat = 'black-box-score' as const;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    const p = parseNesParams(params);
    super(p, 'linf', { loss: 'margin', antithetic: true }, 'scores');
    this.facts = nesFacts(p);
  }

  /** Rows after the first are finite-difference probes: only the iterate (row 0) can be a success. */
  protected override successRows(): 'first' {
    return 'first';
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return nesProgram(task, this.p);
  }
}

export const NES: AttackDefinition = {
  name: 'nes',
  description: 'NES gradient estimation + signed steps, L-inf, score-based (Ilyas et al. 2018)',
  params: NES_PARAMS,
  create: (params = {}) => new NesAttack(params),
  facts: (recorded) => nesFacts(NES_PARAMS.read(recorded)),
};

function* nesProgram(task: ExampleTask, p: NesParams): ExampleProgram<ScoreReply> {
  const { x0, eps, rng, dim } = task;
  const pairs = p.samples / 2;
  let x = x0.slice();
  const grad = new Float64Array(dim);
  const noise = Array.from({ length: pairs }, () => new Float32Array(dim));
  let last: { margin: number; pred: number } | undefined;
  while (task.remaining() >= 1) {
    const full = task.remaining() >= 1 + p.samples;
    const rows: Float32Array[] = [x];
    if (full) {
      for (const u of noise) {
        const plus = new Float32Array(dim);
        const minus = new Float32Array(dim);
        for (let j = 0; j < dim; j++) {
          u[j] = rng.normal();
          plus[j] = clip01(x[j] + p.sigma * u[j]);
          minus[j] = clip01(x[j] - p.sigma * u[j]);
        }
        rows.push(plus, minus);
      }
    }
    const reply = yield rows;
    const m0 = task.margin(reply, 0);
    last = { margin: m0, pred: reply.predictions[0] };
    if (task.reached(reply.predictions[0])) return { adversarial: x, success: true, successRow: 0, loss: m0, prediction: last.pred };
    if (!full) break;
    grad.fill(0);
    for (let i = 0; i < pairs; i++) {
      const diff = task.margin(reply, 1 + 2 * i) - task.margin(reply, 2 + 2 * i);
      const u = noise[i];
      for (let j = 0; j < dim; j++) grad[j] += diff * u[j];
    }
    // The 1/(n sigma) factor does not change sign(g).
    const next = new Float32Array(dim);
    for (let j = 0; j < dim; j++) next[j] = x[j] - p.stepSize * Math.sign(grad[j]);
    x = projectLinfInto(next, next, x0, eps);
    last = undefined;
  }
  return { adversarial: x, success: false, loss: last?.margin, prediction: last?.pred };
}
