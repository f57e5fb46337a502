/**
 * Parsimonious black-box attack (Moon, An, Song, ICML 2019), L-inf, score-based.
 *
 * The perturbation is restricted to the vertices of the eps-ball: delta = eps * s with s in {-1,+1}^d,
 * constant on blocks (block x block pixels, one channel). Starting from s = -1 everywhere, blocks are
 * visited in random mini-batches; on each mini-batch a lazy-greedy local search (accelerated greedy for
 * submodular maximisation) inserts blocks into the +1 set and then deletes blocks from it, minimising the
 * margin loss. After a full pass the blocks are halved (hierarchical refinement) down to 1 pixel.
 * Following snu-mllab/parsimonious-blackbox-attack (max_iters = 1, batch 64). Queries: the marginal gains
 * of a mini-batch are one request; each lazy re-evaluation is a one-row request. Current losses are reused
 * (the reference re-queries the current point at the start of each mini-batch).
 *
 * Threat model: score-based black box. Norm: L-inf only (no norm parameter). Defaults (docs/method.md): 20,000
 * queries per example, 4-pixel blocks, mini-batches of 64, hierarchical, one insert/delete round.
 *
 *   const attack = createAttack('parsimonious', { maxQueries: 5000 });  // opulab attack --attack parsimonious --queries 5000
 *   const [outcome] = await attack.run(model, x, labels, [8 / 255], { seed: 0 });
 */

import type { AttackFacts } from '../../src/types';
import { queryFacts, type AttackDefinition } from '../definition';
import { ParamSchema, bool, int, type RawParams } from '../params';
import { QueryAttack, type ExampleProgram, type ExampleResult, type ExampleTask, type ScoreReply } from './engine';
import { clip01 } from './pixels';

export interface ParsimoniousParams {
  maxQueries: number;
  /** Initial block side in pixels. */
  blockSize: number;
  /** Blocks per local-search mini-batch. */
  batchSize: number;
  /** Halve the blocks after each full pass. */
  hierarchical: boolean;
  /** Insert/delete rounds per mini-batch. */
  maxIters: number;
  maxRowsPerCall: number;
}

/** docs/method.md §5: 20,000 queries, block 4, hierarchical. */
export const PARSIMONIOUS_DEFAULTS: ParsimoniousParams = {
  maxQueries: 20000,
  blockSize: 4,
  batchSize: 64,
  hierarchical: true,
  maxIters: 1,
  maxRowsPerCall: 0,
};

export const PARSIMONIOUS_PARAMS = new ParamSchema('parsimonious', {
  maxQueries: int({ default: PARSIMONIOUS_DEFAULTS.maxQueries, min: 1, description: 'per-example query budget, the clean query included' }),
  blockSize: int({ default: PARSIMONIOUS_DEFAULTS.blockSize, min: 1, description: 'initial block side, pixels' }),
  batchSize: int({ default: PARSIMONIOUS_DEFAULTS.batchSize, min: 1, description: 'blocks per local-search mini-batch' }),
  hierarchical: bool({ default: PARSIMONIOUS_DEFAULTS.hierarchical, description: 'halve the blocks after each full pass' }),
  maxIters: int({ default: PARSIMONIOUS_DEFAULTS.maxIters, min: 1, description: 'insert/delete rounds per mini-batch' }),
  maxRowsPerCall: int({ default: 0, min: 0, description: 'rows per model call, a memory guard (0: one call per round)' }),
});

export function parseParsimoniousParams(raw: RawParams): ParsimoniousParams {
  return PARSIMONIOUS_PARAMS.parse(raw);
}

function parsimoniousFacts(p: { maxQueries: number }): AttackFacts {
  return queryFacts({ threat: 'black-box-score', norms: ['linf'], queryBudget: p.maxQueries, loss: 'margin' });
}

export class ParsimoniousAttack extends QueryAttack<ParsimoniousParams, ScoreReply> {
  readonly name = 'parsimonious';
  readonly threat = 'black-box-score' as const;
  readonly facts: AttackFacts;

  constructor(params: RawParams = {}) {
    const p = parseParsimoniousParams(params);
    super(p, 'linf', { loss: 'margin' }, 'scores');
    this.facts = parsimoniousFacts(p);
  }

  protected program(task: ExampleTask): ExampleProgram<ScoreReply> {
    return parsimoniousProgram(task, this.p);
  }
}

export const PARSIMONIOUS: AttackDefinition = {
  name: 'parsimonious',
  description: 'Parsimonious lazy-greedy block sign search, L-inf, score-based (Moon et al. 2019)',
  params: PARSIMONIOUS_PARAMS,
  create: (params = {}) => new ParsimoniousAttack(params),
  facts: (recorded) => parsimoniousFacts(PARSIMONIOUS_PARAMS.read(recorded)),
};

/** A block: rows [top, top+size) x cols [left, left+size) of one channel (clipped at the image edge). */
interface Block {
  top: number;
  left: number;
  channel: number;
}

function splitBlocks(h: number, w: number, c: number, size: number): Block[] {
  const blocks: Block[] = [];
  for (let top = 0; top < h; top += size) {
    for (let left = 0; left < w; left += size) {
      for (let channel = 0; channel < c; channel++) blocks.push({ top, left, channel });
    }
  }
  return blocks;
}

interface SearchState {
  signs: Int8Array;
  loss: number;
  pred: number;
}

type Outcome = 'continue' | 'budget' | ExampleResult;

function* parsimoniousProgram(task: ExampleTask, p: ParsimoniousParams): ExampleProgram<ScoreReply> {
  const { x0, eps, rng, height: h, width: w, channels: c, dim } = task;
  const image = (signs: Int8Array, flip?: Block, size = 0): Float32Array => {
    const out = new Float32Array(dim);
    for (let j = 0; j < dim; j++) out[j] = clip01(x0[j] + eps * signs[j]);
    if (flip) {
      forEachPixel(flip, size, h, w, c, (q) => {
        out[q] = clip01(x0[q] - eps * signs[q]);
      });
    }
    return out;
  };
  const state: SearchState = { signs: new Int8Array(dim).fill(-1), loss: 0, pred: -1 };
  if (task.remaining() < 1) return { adversarial: x0.slice(), success: false };
  const first = image(state.signs);
  const reply = yield [first];
  state.loss = task.margin(reply, 0);
  state.pred = reply.predictions[0];
  if (task.reached(state.pred)) return { adversarial: first, success: true, successRow: 0, loss: state.loss, prediction: state.pred };

  let size = Math.min(p.blockSize, h, w);
  let blocks = splitBlocks(h, w, c, size);
  let order = rng.permutation(blocks.length);
  for (;;) {
    for (let start = 0; start < blocks.length; start += p.batchSize) {
      const batch: Block[] = [];
      for (let t = start; t < Math.min(start + p.batchSize, blocks.length); t++) batch.push(blocks[order[t]]);
      for (let iter = 0; iter < p.maxIters; iter++) {
        for (const inserting of [true, false]) {
          const outcome: Outcome = yield* lazyGreedy(task, state, batch, size, inserting, image);
          if (outcome === 'budget') return { adversarial: image(state.signs), success: false, loss: state.loss, prediction: state.pred };
          if (outcome !== 'continue') return outcome;
        }
      }
    }
    if (p.hierarchical && size >= 2) {
      size = Math.floor(size / 2);
      blocks = splitBlocks(h, w, c, size);
    }
    order = rng.permutation(blocks.length);
  }
}

function forEachPixel(b: Block, size: number, h: number, w: number, c: number, fn: (q: number) => void): void {
  for (let i = b.top; i < Math.min(b.top + size, h); i++) {
    for (let j = b.left; j < Math.min(b.left + size, w); j++) fn((i * w + j) * c + b.channel);
  }
}

/**
 * One lazy-greedy pass over the blocks of `batch` outside (insert) or inside (delete) the +1 set.
 * Every candidate lies on an eps-ball vertex, so any candidate that reaches the goal is a valid result.
 */
function* lazyGreedy(
  task: ExampleTask,
  state: SearchState,
  batch: Block[],
  size: number,
  inserting: boolean,
  image: (signs: Int8Array, flip?: Block, size?: number) => Float32Array,
): Generator<Float32Array[], Outcome, ScoreReply> {
  const { height: h, width: w, channels: c } = task;
  const at = (b: Block): number => (b.top * w + b.left) * c + b.channel;
  const flip = (b: Block): void =>
    forEachPixel(b, size, h, w, c, (q) => {
      state.signs[q] = -state.signs[q] as -1 | 1;
    });
  let cands = batch.filter((b) => (state.signs[at(b)] > 0) !== inserting);
  if (cands.length === 0) return 'continue';
  const room = task.remaining();
  if (room < 1) return 'budget';
  cands = cands.slice(0, room);
  const rows = cands.map((b) => image(state.signs, b, size));
  let reply = yield rows;
  for (let r = 0; r < rows.length; r++) {
    if (task.reached(reply.predictions[r])) {
      return { adversarial: rows[r], success: true, successRow: r, loss: task.margin(reply, r), prediction: reply.predictions[r] };
    }
  }
  // Priority queue of (gain, block) with gain = loss after flipping - current loss (lower is better).
  const queue = cands.map((b, r) => ({ gain: task.margin(reply, r) - state.loss, block: b, loss: task.margin(reply, r), pred: reply.predictions[r] }));
  queue.sort((a, b) => a.gain - b.gain);
  const best = queue.shift() as (typeof queue)[number];
  // The reference accepts the best element of the batch unconditionally (its loss was just measured).
  flip(best.block);
  state.loss = best.loss;
  state.pred = best.pred;
  while (queue.length > 0) {
    const cand = queue.shift() as (typeof queue)[number];
    if (task.remaining() < 1) return 'budget';
    const row = image(state.signs, cand.block, size);
    reply = yield [row];
    const loss = task.margin(reply, 0);
    if (task.reached(reply.predictions[0])) {
      return { adversarial: row, success: true, successRow: 0, loss, prediction: reply.predictions[0] };
    }
    const gain = loss - state.loss;
    if (queue.length === 0 || gain <= queue[0].gain) {
      if (gain > 0) break;
      flip(cand.block);
      state.loss = loss;
      state.pred = reply.predictions[0];
    } else {
      // Stale gain: re-insert in order.
      const item = { gain, block: cand.block, loss, pred: reply.predictions[0] };
      let k = 0;
      while (k < queue.length && queue[k].gain <= gain) k++;
      queue.splice(k, 0, item);
    }
  }
  return 'continue';
}
