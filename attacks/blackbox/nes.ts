/**
 * NES attack (Ilyas, Engstrom, Athalye, Lin, ICML 2018), L-inf, score-based.
 *
 * Natural-evolution-strategies gradient estimate of the margin loss with antithetic Gaussian sampling,
 *   g = 1/(n sigma) * sum_{i<n/2} [L(x + sigma u_i) - L(x - sigma u_i)] u_i,   u_i ~ N(0, I),
 * followed by a PGD-style signed step x <- Proj_{eps}(x - lr * sign(g)) (the margin is minimised).
 * Each step is one request of 1 + n rows: the current iterate (its success is checked) and the n samples.
 */

import { UserError } from '../../src/util/errors';
import { QueryAttack, type ExampleProgram, type ExampleTask, type ScoreReply } from './engine';
import { clip01, projectLinfInto } from './pixels';
import { checkKnownKeys, integer, positive, type RawParams } from './params';

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

export function parseNesParams(raw: RawParams): NesParams {
  checkKnownKeys('nes', raw, Object.keys(NES_DEFAULTS));
  if (raw.norm !== undefined && raw.norm !== 'linf') throw new UserError(`bad nes parameter norm=${String(raw.norm)}: expected linf`);
  const samples = integer('nes', raw, 'samples', NES_DEFAULTS.samples, 2);
  if (samples % 2 !== 0) throw new UserError(`bad nes parameter samples=${samples}: expected an even number (antithetic pairs)`);
  return {
    maxQueries: integer('nes', raw, 'maxQueries', NES_DEFAULTS.maxQueries, 1),
    samples,
    sigma: positive('nes', raw, 'sigma', NES_DEFAULTS.sigma),
    stepSize: positive('nes', raw, 'stepSize', NES_DEFAULTS.stepSize),
    maxRowsPerCall: integer('nes', raw, 'maxRowsPerCall', 0, 0),
  };
}

export class NesAttack extends QueryAttack<NesParams, ScoreReply> {
  readonly name = 'nes';
  readonly threat = 'black-box-score' as const;

  constructor(params: RawParams = {}) {
    super(parseNesParams(params), 'linf', { loss: 'margin', antithetic: true }, 'scores');
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return nesProgram(task, this.p);
  }
}

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
