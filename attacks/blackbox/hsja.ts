/**
 * HopSkipJumpAttack (Chen, Jordan, Wainwright, IEEE S&P 2020), L2 and L-inf, decision-based: the attack
 * sees only the top-1 label of each query.
 *
 * Start from a random uniform image with a different label, binary-search towards x0 to the decision
 * boundary, then iterate: Monte-Carlo estimate of the boundary normal from sign(decision) of points
 * x_b + delta u (baseline-subtracted), a geometric step-size search along it (halving until adversarial
 * again), and a binary search back to the boundary. Follows the authors' reference implementation
 * (Jianbo-Lab/HSJA): theta = gamma / (d sqrt(d)) (L2) or gamma / d^2 (L-inf), delta from the last
 * post-update distance, num_evals = init * sqrt(t).
 *
 * HSJA minimises the distance of an adversarial point; here it stops as soon as any queried point is
 * adversarial AND within eps of x0 (success). Otherwise it runs until the budget and returns the best
 * adversarial point projected onto the eps-ball (success = false).
 *
 * Threat model: decision-based black box (top-1 label only). Norm: L2 (default) or L-inf. Defaults: 5000 queries
 * per example, 100 initial evaluations (at most 10,000), gamma 1, 100 random starts.
 *
 *   const attack = createAttack('hsja', { norm: 'l2', maxQueries: 3000 });  // opulab attack --attack hsja --norm l2 --queries 3000
 *   const [outcome] = await attack.run(model, x, labels, [0.5], { seed: 0 });
 */
import type { AttackFacts, Norm } from '../../src/types';
import { queryFacts, type AttackDefinition } from '../definition';
import { ParamSchema, int, num, oneOf, type RawParams } from '../params';
import { QueryAttack, type ExampleProgram, type ExampleResult, type ExampleTask, type LabelReply } from './engine';
import { clip01, distance, l2Norm, projectInto } from './pixels';

export interface HsjaParams {
  norm: Norm;
  maxQueries: number;
  /** Evaluations of the first gradient estimate (grows as sqrt(iteration)). */
  initEvals: number;
  maxEvals: number;
  gamma: number;
  /** Random starting images tried before giving up on an example. */
  initTrials: number;
  maxRowsPerCall: number;
}

export const HSJA_DEFAULTS: HsjaParams = {
  norm: 'l2',
  maxQueries: 5000,
  initEvals: 100,
  maxEvals: 10000,
  gamma: 1,
  initTrials: 100,
  maxRowsPerCall: 0,
};

export const HSJA_PARAMS = new ParamSchema('hsja', {
  norm: oneOf(['l2', 'linf'], { default: 'l2', description: 'threat norm: l2 or linf' }),
  maxQueries: int({ default: HSJA_DEFAULTS.maxQueries, min: 1, description: 'per-example query budget, the clean query included' }),
  initEvals: int({ default: HSJA_DEFAULTS.initEvals, min: 1, description: 'evaluations of the first gradient estimate (grows as sqrt(iteration))' }),
  maxEvals: int({ default: HSJA_DEFAULTS.maxEvals, min: 1, description: 'cap on evaluations per gradient estimate' }),
  gamma: num({ default: HSJA_DEFAULTS.gamma, min: 0, minExclusive: true, description: 'binary-search threshold factor (theta = gamma / d^1.5 L2, gamma / d^2 L-inf)' }),
  initTrials: int({ default: HSJA_DEFAULTS.initTrials, min: 1, description: 'random starting images tried before giving up on an example' }),
  maxRowsPerCall: int({ default: 0, min: 0, description: 'rows per model call, a memory guard (0: one call per round)' }),
});

export function parseHsjaParams(raw: RawParams): HsjaParams {
  return HSJA_PARAMS.parse(raw);
}

function hsjaFacts(p: { maxQueries: number }): AttackFacts {
  return queryFacts({ threat: 'decision', norms: ['l2', 'linf'], queryBudget: p.maxQueries });
}

export class HopSkipJumpAttack extends QueryAttack<HsjaParams, LabelReply> {
  readonly name = 'hsja';
  readonly threat = 'decision' as const;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    const p = parseHsjaParams(params);
    super(p, p.norm, { stepSizeSearch: 'geometric' }, 'labels');
    this.facts = hsjaFacts(p);
  }

  protected program(task: ExampleTask): ExampleProgram<LabelReply> {
    return hsjaProgram(task, this.p);
  }

  protected override streamLabel(): string {
    return `hsja-${this.p.norm}`;
  }
}

export const HSJA: AttackDefinition = {
  name: 'hsja',
  description: 'HopSkipJump boundary attack, L2 or L-inf, decision-based (Chen et al. 2020)',
  params: HSJA_PARAMS,
  create: (params = {}) => new HopSkipJumpAttack(params),
  facts: (recorded) => hsjaFacts(HSJA_PARAMS.read(recorded)),
};

/** Thrown inside the program when the budget cannot pay for the next request. */
const OUT_OF_BUDGET = Symbol('out of budget');

function* hsjaProgram(task: ExampleTask, p: HsjaParams): ExampleProgram<LabelReply> {
  const { x0, eps, rng, dim, norm } = task;
  const theta = norm === 'l2' ? p.gamma / (Math.sqrt(dim) * dim) : p.gamma / (dim * dim);
  // The closest confirmed adversarial point so far (returned, projected, on failure).
  let adv: Float32Array | undefined;
  let advDist = Infinity;
  const remember = (row: Float32Array): void => {
    const d = distance(row, x0, norm);
    if (d < advDist) {
      adv = row;
      advDist = d;
    }
  };
  // The boundary point the iterations start from (the reference's `perturbed`).
  let current = x0;

  const failure = (): ExampleResult => {
    if (!adv) return { adversarial: x0.slice(), success: false };
    return { adversarial: projectInto(norm, new Float32Array(dim), adv, x0, eps), success: false };
  };

  /**
   * Query rows; returns their decisions (true = adversarial), or a success result when a row is adversarial
   * and within eps (the earliest such row).
   */
  function* decide(rows: Float32Array[]): Generator<Float32Array[], boolean[] | ExampleResult, LabelReply> {
    if (task.remaining() < rows.length) throw OUT_OF_BUDGET;
    const reply = yield rows;
    const out: boolean[] = [];
    for (let r = 0; r < rows.length; r++) {
      const ok = task.reached(reply.predictions[r]);
      if (ok && distance(rows[r], x0, norm) <= eps) {
        return { adversarial: rows[r], success: true, successRow: r, prediction: reply.predictions[r] };
      }
      out.push(ok);
    }
    return out;
  }
  const isResult = (v: boolean[] | ExampleResult): v is ExampleResult => !Array.isArray(v);

  /** Binary search between x0 and an adversarial point towards the boundary (reference binary_search_batch). */
  function* boundarySearch(point: Float32Array): Generator<Float32Array[], ExampleResult | number, LabelReply> {
    const postUpdate = distance(point, x0, norm);
    let high = norm === 'linf' ? postUpdate : 1;
    let low = 0;
    const threshold = norm === 'linf' ? Math.min(postUpdate * theta, theta) : theta;
    const blend = (alpha: number): Float32Array => {
      const out = new Float32Array(dim);
      if (norm === 'l2') for (let j = 0; j < dim; j++) out[j] = (1 - alpha) * x0[j] + alpha * point[j];
      else for (let j = 0; j < dim; j++) out[j] = Math.min(Math.max(point[j], x0[j] - alpha), x0[j] + alpha);
      return out;
    };
    while ((high - low) / threshold > 1) {
      const mid = (high + low) / 2;
      const row = blend(mid);
      const d = yield* decide([row]);
      if (isResult(d)) return d;
      if (d[0]) {
        high = mid;
        remember(row);
      } else {
        low = mid;
      }
    }
    current = blend(high);
    return postUpdate;
  }

  try {
    // 1. A random adversarial starting point.
    let start: Float32Array | undefined;
    for (let t = 0; t < p.initTrials && !start; t++) {
      const noise = new Float32Array(dim);
      for (let j = 0; j < dim; j++) noise[j] = rng.uniform();
      const d = yield* decide([noise]);
      if (isResult(d)) return d;
      if (d[0]) start = noise;
    }
    if (!start) return failure();
    remember(start);
    // Coarse blend towards x0 (reference `initialize`: tolerance 0.001 on the blend factor).
    let lo = 0;
    let hi = 1;
    while (hi - lo > 0.001) {
      const mid = (hi + lo) / 2;
      const row = new Float32Array(dim);
      for (let j = 0; j < dim; j++) row[j] = (1 - mid) * x0[j] + mid * start[j];
      const d = yield* decide([row]);
      if (isResult(d)) return d;
      if (d[0]) {
        hi = mid;
        remember(row);
      } else {
        lo = mid;
      }
    }
    const init = new Float32Array(dim);
    for (let j = 0; j < dim; j++) init[j] = (1 - hi) * x0[j] + hi * start[j];
    const first = yield* boundarySearch(init);
    if (typeof first !== 'number') return first;
    let distPostUpdate = first;

    // 2. Iterations: gradient estimate, geometric step search, binary search.
    for (let t = 1; ; t++) {
      const base = current;
      const dist = distance(base, x0, norm);
      const delta = t === 1 ? 0.1 : (norm === 'l2' ? Math.sqrt(dim) : dim) * theta * distPostUpdate;
      let evals = Math.min(Math.floor(p.initEvals * Math.sqrt(t)), p.maxEvals);
      evals = Math.min(evals, task.remaining() - 1);
      if (evals < 1) throw OUT_OF_BUDGET;
      const rvs: Float64Array[] = [];
      const rows: Float32Array[] = [];
      for (let e = 0; e < evals; e++) {
        const rv = new Float64Array(dim);
        for (let j = 0; j < dim; j++) rv[j] = norm === 'l2' ? rng.normal() : rng.range(-1, 1);
        const n = l2Norm(rv) || 1;
        const row = new Float32Array(dim);
        for (let j = 0; j < dim; j++) {
          row[j] = clip01(base[j] + (delta * rv[j]) / n);
          rv[j] = (row[j] - base[j]) / delta;
        }
        rvs.push(rv);
        rows.push(row);
      }
      const dec = yield* decide(rows);
      if (isResult(dec)) return dec;
      const fval = dec.map((b) => (b ? 1 : -1));
      const mean = fval.reduce((a, b) => a + b, 0) / evals;
      const grad = new Float64Array(dim);
      for (let e = 0; e < evals; e++) {
        // All same sign: the reference uses +/- mean(rv); otherwise the baseline-subtracted estimate.
        const f = mean === 1 ? 1 : mean === -1 ? -1 : fval[e] - mean;
        const rv = rvs[e];
        for (let j = 0; j < dim; j++) grad[j] += (f * rv[j]) / evals;
      }
      const gn = l2Norm(grad) || 1;
      const update = new Float64Array(dim);
      for (let j = 0; j < dim; j++) update[j] = norm === 'linf' ? Math.sign(grad[j]) : grad[j] / gn;

      // Geometric progression: halve the step until the point is adversarial again.
      let stepSize = dist / Math.sqrt(t);
      let moved: Float32Array | undefined;
      for (let halvings = 0; halvings < 30 && !moved; halvings++) {
        const row = new Float32Array(dim);
        for (let j = 0; j < dim; j++) row[j] = clip01(base[j] + stepSize * update[j]);
        const d = yield* decide([row]);
        if (isResult(d)) return d;
        if (d[0]) {
          moved = row;
          remember(row);
        } else {
          stepSize /= 2;
        }
      }
      if (!moved) continue;
      const post = yield* boundarySearch(moved);
      if (typeof post !== 'number') return post;
      distPostUpdate = post;
    }
  } catch (e) {
    if (e === OUT_OF_BUDGET) return failure();
    throw e;
  }
}
