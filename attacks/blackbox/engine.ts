/**
 * The batched query loop shared by every black-box attack.
 *
 * Each attack is written as a per-example program: a generator that yields the candidate images it wants
 * scored (one request = any number of rows) and receives the model's reply. The engine runs all programs
 * in lock-step: the rows of every still-running example for one step are packed into ONE model call
 * through a QueryCounter (exact per-example accounting, hard budget). An example stops spending queries
 * as soon as its program returns (success or budget). Per-example random streams
 * (makeRng(seed, attack, eps index, example)) make an example's run independent of the rest of the batch.
 *
 * Protocol, per epsilon (a list of epsilons runs independently, each with the full budget):
 *  1. one query of every clean input (counted); examples already misclassified (or already at the
 *     target) are done: success with 1 query, adversarial = the clean input;
 *  2. the programs run until they return;
 *  3. `queries[i]` = queries until the first success — the queries of earlier calls plus the position of
 *     the successful row within its request (what a sequential attacker would have spent); for failed
 *     examples, the queries actually spent (<= budget).
 * Every returned adversarial is checked to lie in the eps-ball and [0,1] (a violation is a bug: throws).
 *
 * On a stochastic model (camera noise) one noisy pass can look adversarial by luck, and the evaluation scores the
 * final point by a vote over several passes (attacks/eot.ts). So a row whose pass reaches the goal is confirmed
 * before its program sees it: it is queried again (evalPasses - 1 more times, charged to its example and counted
 * in its queries to success) and its prediction becomes the vote, which is what the attack then acts on. Only rows
 * the attack could stop on are confirmed (in the eps-ball; for Bandits and NES the iterate, not the probes), the
 * first of them per example that holds. A row whose example cannot pay for that is reported as not reached. A
 * deterministic model is queried once per row.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackFacts, AttackOutcome, Classifier, Norm } from '../../src/types';
import { makeRng, type Rng } from '../../src/util/rng';
import { UserError } from '../../src/util/errors';
import { QueryCounter, argMaxRow } from '../query-counter';
import { checkBatch, reachesGoal } from '../batch';
import { distance, marginFromLogits } from './pixels';
import { formatEps } from '../eps';
import { eotRecordOf, votedClass, type StochasticVote } from '../eot';

/** What a score-based program receives: logits of each requested row, and their arg-max. */
export interface ScoreReply {
  /** Flat [rows, numClasses]. */
  logits: Float32Array;
  predictions: Int32Array;
}

/** What a decision-based program receives: the top-1 label of each requested row, nothing else. */
export interface LabelReply {
  predictions: Int32Array;
}

export interface ExampleTask {
  index: number;
  x0: Float32Array;
  label: number;
  target?: number;
  eps: number;
  norm: Norm;
  height: number;
  width: number;
  channels: number;
  dim: number;
  numClasses: number;
  /** The budget of this example (including the clean query). */
  budget: number;
  rng: Rng;
  remaining(): number;
  /** Goal test on a predicted label. */
  reached(prediction: number): boolean;
  /** Attack margin of reply row r (score-based programs only). */
  margin(reply: ScoreReply, r: number): number;
}

export interface ExampleResult {
  /** Final point: must lie in the eps-ball around x0 and in [0,1]. */
  adversarial: Float32Array;
  success: boolean;
  /** On success: the index of the successful row within the last request. */
  successRow?: number;
  /** Final attack margin, when known. */
  loss?: number;
  /** Model prediction at `adversarial`, when known. */
  prediction?: number;
}

export type ExampleProgram<R> = Generator<Float32Array[], ExampleResult, R>;
export type ProgramFactory<R> = (task: ExampleTask) => ExampleProgram<R>;

export interface EngineOptions {
  /** Attack name (also labels the random streams). */
  name: string;
  mode: 'scores' | 'labels';
  norm: Norm;
  /** Per-example query budget, the clean query included. */
  budget: number;
  maxRowsPerCall?: number;
  /**
   * Which rows of a request the attack may stop on: 'first' (its iterate; the others are finite-difference probes,
   * as in Bandits and NES) or 'any' (default). Only those are confirmed on a stochastic model.
   */
  successRows?: 'first' | 'any';
}

/** Tolerance for the eps-ball check on float32 values. */
const BALL_TOLERANCE = 1e-5;

/** How an apparent success is confirmed on a stochastic model: the evaluation's passes and vote (null: never). */
interface Confirmation {
  passes: number;
  vote: StochasticVote;
}

function confirmationOf(model: Classifier): Confirmation | null {
  const eot = model.stochastic ? eotRecordOf(model) : undefined;
  return eot && eot.evalPasses > 1 ? { passes: eot.evalPasses, vote: eot.vote } : null;
}

function softmaxInto(logits: ArrayLike<number>, offset: number, k: number, into: Float64Array, intoOffset: number): void {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, logits[offset + j]);
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Math.exp(logits[offset + j] - max);
  for (let j = 0; j < k; j++) into[intoOffset + j] += Math.exp(logits[offset + j] - max) / sum;
}

/** One example's rows within a packed request: rows start .. start + count - 1. */
interface RowGroup {
  owner: number;
  start: number;
  count: number;
}

/**
 * Confirm apparent successes (module comment). A candidate is a row whose pass reached the goal, that lies in the
 * eps-ball (only such a row can be a success) and that the attack may stop on (`isCandidate`: the iterate row of
 * Bandits and NES, any row of the others). Per example, candidates are confirmed in row order until one holds
 * (the attack stops at the first success it sees): each is queried passes - 1 more times and its prediction
 * becomes the vote of all its passes. A candidate whose example lacks the budget gets its true label. Returns the
 * confirmation queries charged to each row.
 */
async function confirmRows(
  counter: QueryCounter,
  conf: Confirmation,
  pixels: Float32Array,
  logits: Float32Array,
  groups: readonly RowGroup[],
  preds: Int32Array,
  isCandidate: (group: RowGroup, row: number) => boolean,
  reached: (owner: number, prediction: number) => boolean,
  labelOf: (owner: number) => number,
): Promise<Int32Array> {
  const dim = counter.dim;
  const k = counter.numClasses;
  const extra = conf.passes - 1;
  const cost = new Int32Array(preds.length);
  const open = groups.map((g) => ({ g, next: 0 }));
  const votes = new Float64Array(k);
  const probSum = new Float64Array(k);
  for (;;) {
    const picks: { q: number; owner: number; at: (typeof open)[number] }[] = [];
    for (const at of open) {
      const { g } = at;
      while (at.next < g.count) {
        const q = g.start + at.next++;
        if (!reached(g.owner, preds[q]) || !isCandidate(g, q)) continue;
        if (counter.remaining(g.owner) >= extra) {
          picks.push({ q, owner: g.owner, at });
          break;
        }
        preds[q] = labelOf(g.owner);
      }
    }
    if (!picks.length) return cost;
    const again = new Float32Array(picks.length * extra * dim);
    const againOwners = new Int32Array(picks.length * extra);
    picks.forEach(({ q, owner }, p) => {
      for (let e = 0; e < extra; e++) {
        again.set(pixels.subarray(q * dim, (q + 1) * dim), (p * extra + e) * dim);
        againOwners[p * extra + e] = owner;
      }
    });
    const more = await counter.scores(again, againOwners);
    for (let p = 0; p < picks.length; p++) {
      const { q, owner, at } = picks[p];
      votes.fill(0);
      probSum.fill(0);
      votes[preds[q]] += 1;
      softmaxInto(logits, q * k, k, probSum, 0);
      for (let e = 0; e < extra; e++) {
        const r = p * extra + e;
        votes[argMaxRow(more, r * k, k)] += 1;
        softmaxInto(more, r * k, k, probSum, 0);
      }
      preds[q] = votedClass(votes, probSum, 0, k, conf.vote);
      cost[q] = extra;
      // confirmed: the attack stops here, so the example's later rows need none
      if (reached(owner, preds[q])) at.next = at.g.count;
    }
  }
}

/** Confirmation queries of rows 0..successRow of an example's last request. */
function confirmedBefore(cost: Int32Array | undefined, successRow: number): number {
  let s = 0;
  if (cost) for (let r = 0; r <= successRow && r < cost.length; r++) s += cost[r];
  return s;
}

export async function runQueryAttack<R extends LabelReply>(
  model: Classifier,
  x: tf.Tensor4D,
  labels: Int32Array,
  epsilons: number[],
  ctx: AttackContext,
  options: EngineOptions,
  factory: ProgramFactory<R>,
): Promise<AttackOutcome[]> {
  const [n, h, w, c] = x.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new UserError(`input shape [${h},${w},${c}] does not match model '${model.id}' input [${mh},${mw},${mc}]`);
  }
  checkBatch(options.name, x, labels, epsilons, ctx);
  const pixels = (await x.data()) as Float32Array;
  const outcomes: AttackOutcome[] = [];
  for (let k = 0; k < epsilons.length; k++) {
    const report = (f: number, msg?: string): void => ctx.onProgress?.((k + f) / epsilons.length, msg);
    outcomes.push(await runOneEps(model, pixels, [n, h, w, c], labels, epsilons[k], k, ctx, options, factory, report));
  }
  return outcomes;
}

interface Running<R> {
  index: number;
  program: ExampleProgram<R>;
  request: Float32Array[];
}

async function runOneEps<R extends LabelReply>(
  model: Classifier,
  pixels: Float32Array,
  shape: [number, number, number, number],
  labels: Int32Array,
  eps: number,
  epsIndex: number,
  ctx: AttackContext,
  options: EngineOptions,
  factory: ProgramFactory<R>,
  report: (fraction: number, message?: string) => void,
): Promise<AttackOutcome> {
  const [n, h, w, c] = shape;
  const dim = h * w * c;
  const k = model.numClasses;
  const counter = new QueryCounter(model, n, options.budget, { maxRowsPerCall: options.maxRowsPerCall });
  const x0 = (i: number): Float32Array => pixels.subarray(i * dim, (i + 1) * dim);
  const target = (i: number): number | undefined => (ctx.targets ? ctx.targets[i] : undefined);

  const adversarial = new Float32Array(n * dim);
  const success: boolean[] = new Array(n).fill(false);
  const queries: number[] = new Array(n).fill(0);
  const loss: (number | undefined)[] = new Array(n).fill(undefined);
  const prediction: (number | undefined)[] = new Array(n).fill(undefined);

  const confirm = confirmationOf(model);
  const reachedBy = (o: number, p: number): boolean => reachesGoal(p, labels[o], target(o));
  const candidateIn =
    (rows: Float32Array) =>
    (g: RowGroup, q: number): boolean =>
      (options.successRows !== 'first' || q === g.start) && inBall(rows.subarray(q * dim, (q + 1) * dim), x0(g.owner), eps, options.norm);
  const finish = (i: number, result: ExampleResult, queriesBefore: number, lastRows: number, rowCost?: Int32Array): void => {
    const adv = result.adversarial;
    if (adv.length !== dim) throw new Error(`${options.name}: example ${i} returned ${adv.length} values, expected ${dim}`);
    checkFeasible(options.name, i, adv, x0(i), eps, options.norm);
    adversarial.set(adv, i * dim);
    success[i] = result.success;
    if (result.success && result.successRow !== undefined) {
      if (!(result.successRow >= 0 && result.successRow < lastRows)) {
        throw new Error(`${options.name}: example ${i} success row ${result.successRow} outside its last request`);
      }
      queries[i] = queriesBefore + result.successRow + 1 + confirmedBefore(rowCost, result.successRow);
    } else {
      queries[i] = counter.queries(i);
    }
    loss[i] = result.loss;
    prediction[i] = result.prediction;
  };

  // 1. Clean query of every example (one call).
  if (options.budget < 1) throw new UserError(`${options.name}: query budget ${options.budget} leaves no query`);
  const owners = new Int32Array(n);
  for (let i = 0; i < n; i++) owners[i] = i;
  const clean = await counter.scores(pixels, owners);
  const cleanPreds = new Int32Array(n);
  for (let i = 0; i < n; i++) cleanPreds[i] = argMaxRow(clean, i * k, k);
  const cleanGroups = Array.from({ length: n }, (_, i): RowGroup => ({ owner: i, start: i, count: 1 }));
  const cleanCost = confirm ? await confirmRows(counter, confirm, pixels, clean, cleanGroups, cleanPreds, candidateIn(pixels), reachedBy, (o) => labels[o]) : undefined;
  const running: Running<R>[] = [];
  for (let i = 0; i < n; i++) {
    const pred = cleanPreds[i];
    const margin = marginFromLogits(clean, i * k, k, labels[i], target(i));
    if (reachesGoal(pred, labels[i], target(i))) {
      finish(i, { adversarial: x0(i), success: true, successRow: 0, loss: margin, prediction: pred }, 0, 1, cleanCost?.subarray(i, i + 1));
      continue;
    }
    const task: ExampleTask = {
      index: i,
      x0: x0(i),
      label: labels[i],
      target: target(i),
      eps,
      norm: options.norm,
      height: h,
      width: w,
      channels: c,
      dim,
      numClasses: k,
      budget: options.budget,
      rng: makeRng(ctx.seed, options.name, 'eps', epsIndex, 'example', i),
      remaining: () => counter.remaining(i),
      reached: (p) => reachesGoal(p, labels[i], target(i)),
      margin: (reply, r) => marginFromLogits(reply.logits, r * k, k, labels[i], target(i)),
    };
    const program = factory(task);
    const first = program.next(undefined as unknown as R);
    if (first.done) finish(i, first.value, counter.queries(i), 0);
    else running.push({ index: i, program, request: first.value });
  }

  // 2. Lock-step rounds: one model call per round with every running example's rows.
  let active = running;
  while (active.length > 0) {
    let rows = 0;
    for (const r of active) rows += r.request.length;
    const packed = new Float32Array(rows * dim);
    const rowOwners = new Int32Array(rows);
    const groups: RowGroup[] = [];
    let at = 0;
    for (const r of active) {
      groups.push({ owner: r.index, start: at, count: r.request.length });
      for (const row of r.request) {
        if (row.length !== dim) throw new Error(`${options.name}: a requested row has ${row.length} values, expected ${dim}`);
        packed.set(row, at * dim);
        rowOwners[at++] = r.index;
      }
    }
    const before = active.map((r) => counter.queries(r.index));
    // a label-only program sees only the predictions; the scores stay here (they break ties of a confirming vote)
    const logits = await counter.scores(packed, rowOwners);
    const preds = new Int32Array(rows);
    for (let q = 0; q < rows; q++) preds[q] = argMaxRow(logits, q * k, k);
    const rowCost = confirm ? await confirmRows(counter, confirm, packed, logits, groups, preds, candidateIn(packed), reachedBy, (o) => labels[o]) : undefined;
    const next: Running<R>[] = [];
    let offset = 0;
    active.forEach((r, j) => {
      const m = r.request.length;
      const reply = (
        options.mode === 'scores'
          ? { logits: logits.subarray(offset * k, (offset + m) * k), predictions: preds.subarray(offset, offset + m) }
          : { predictions: preds.subarray(offset, offset + m) }
      ) as R;
      const cost = rowCost?.subarray(offset, offset + m);
      offset += m;
      const step = r.program.next(reply);
      if (step.done) finish(r.index, step.value, before[j], m, cost);
      else next.push({ index: r.index, program: r.program, request: step.value });
    });
    active = next;
    const done = n - active.length;
    // finished examples count whole, running ones by the share of their budget spent (a robust example runs to it)
    let spent = done;
    for (const r of active) spent += Math.min(1, counter.queries(r.index) / options.budget);
    report(spent / n, `${options.name} eps ${formatEps(eps)}: ${done}/${n} done, ${counter.total()} queries`);
  }

  const out: AttackOutcome = {
    eps,
    adversarial: tf.tensor4d(adversarial, [n, h, w, c]),
    success,
    queries,
  };
  if (loss.every((v) => v !== undefined)) out.loss = loss as number[];
  if (prediction.every((v) => v !== undefined)) out.adversarialPrediction = prediction as number[];
  return out;
}

/** Whether a point lies in the eps-ball around x0 (the feasibility check's tolerance). */
function inBall(x: Float32Array, x0: Float32Array, eps: number, norm: Norm): boolean {
  return distance(x, x0, norm) <= eps * (1 + BALL_TOLERANCE) + BALL_TOLERANCE * 1e-1;
}

function checkFeasible(name: string, i: number, adv: Float32Array, x0: Float32Array, eps: number, norm: Norm): void {
  for (let j = 0; j < adv.length; j++) {
    if (!(adv[j] >= 0 && adv[j] <= 1)) throw new Error(`${name}: example ${i} pixel ${j} = ${adv[j]} outside [0,1]`);
  }
  if (!inBall(adv, x0, eps, norm)) {
    const d = distance(adv, x0, norm);
    throw new Error(`${name}: example ${i} perturbation ${norm} norm ${d} exceeds eps ${eps}`);
  }
}

/** What every query attack's parameters carry: the per-example budget and the rows-per-model-call cap. */
export interface QueryBudget {
  maxQueries: number;
  maxRowsPerCall: number;
}

/**
 * The tiny shared base of the query attacks (torchattacks-style: one small file per attack). A subclass names
 * itself, parses its parameters (attacks/params.ts), declares its facts and writes `program`, the per-example
 * generator the engine drives in batches.
 */
export abstract class QueryAttack<P extends QueryBudget, R extends LabelReply> implements Attack {
  abstract readonly name: string;
  abstract readonly threat: 'black-box-score' | 'decision';
  abstract readonly facts: AttackFacts;
  readonly params: Readonly<Record<string, unknown>>;

  protected constructor(
    protected readonly p: P,
    readonly norm: Norm,
    recorded: Record<string, unknown>,
    private readonly mode: 'scores' | 'labels',
  ) {
    this.params = { ...p, ...recorded };
  }

  /** The per-example program: yields query requests, receives replies, returns the final adversarial. */
  protected abstract program(task: ExampleTask): ExampleProgram<R>;

  /** Label of the per-example random streams (defaults to the attack name). */
  protected streamLabel(): string {
    return this.name;
  }

  /** Which rows of a request the program may stop on (EngineOptions.successRows). */
  protected successRows(): 'first' | 'any' {
    return 'any';
  }

  run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
    const { maxQueries, maxRowsPerCall } = this.p;
    return runQueryAttack<R>(
      model,
      x,
      labels,
      epsilons,
      ctx,
      { name: this.streamLabel(), mode: this.mode, norm: this.norm, budget: maxQueries, maxRowsPerCall, successRows: this.successRows() },
      (task) => this.program(task),
    );
  }
}
