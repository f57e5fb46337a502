/**
 * Runs one attack over a dataset in batches and turns the outcomes into results.json run records (one per
 * eps) plus per-example records (JSONL beside results.json).
 *
 * Scoring: the adversarial inputs the attack returns are RE-SCORED here with fresh forward passes (majority
 * over `evalPasses` for stochastic models, see attacks/eot.ts), so a lucky noise draw during the attack does
 * not count as a success. robustAccuracy = fraction correct on the adversarial input among ALL examples
 * (clean-misclassified examples count as non-robust); successRate = fraction reaching the attack goal among
 * the clean-correct examples. gradientStats (C11) are measured once at the clean points with the CE loss.
 * wallTimeSec of every returned run is the wall time of the whole call (all eps share one attack call).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, Classifier, EpsSpace } from '../src/types';
import type { PerSampleRecord, QueryStats, RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { writeFileAtomic } from '../src/util/atomic';
import { deriveSeed } from '../src/util/rng';
import { crossEntropyLoss } from './losses';
import { eotRecordOf, stochasticPredict, type StochasticVote } from './eot';
import { perExampleNorm } from './projection';
import { queryStats } from './blackbox/curves';

export interface EvaluationData {
  /** Pixel-space NHWC images in [0,1]. */
  x: tf.Tensor4D;
  labels: Int32Array;
  /** Dataset indices of the rows (for per-sample records); 0..n-1 when absent. */
  indices?: Int32Array;
}

export interface EvaluateOptions {
  seed: number;
  batchSize: number;
  /** The space the user wrote eps in (`epsilons` passed to evaluateAttack are always pixel units). */
  epsSpace: EpsSpace;
  /** The eps as the user wrote them, one per entry of `epsilons`. */
  epsInSpace?: number[];
  modelId: string;
  /** Targets for a targeted attack, one per example. */
  targets?: Int32Array;
  /** Forward passes to score predictions of a stochastic model (default: the EOT wrapper's, else 1). */
  evalPasses?: number;
  vote?: StochasticVote;
  onProgress?: (fraction: number, message?: string) => void;
}

export interface EvaluationRun {
  run: RunRecord;
  perSample: PerSampleRecord[];
}

interface GradientCounts {
  zero: number;
  nan: number;
  total: number;
}

export async function evaluateAttack(
  model: Classifier,
  data: EvaluationData,
  attack: Attack,
  epsilons: number[],
  opts: EvaluateOptions,
): Promise<EvaluationRun[]> {
  const started = Date.now();
  const n = data.labels.length;
  validate(data, epsilons, opts, n);
  const eot = eotRecordOf(model);
  const passes = opts.evalPasses ?? (model.stochastic ? (eot?.evalPasses ?? 1) : 1);
  const vote = opts.vote ?? eot?.vote ?? 'majority';
  const perSample: PerSampleRecord[][] = epsilons.map(() => []);
  const queries: (number | undefined)[][] = epsilons.map(() => []);
  const cleanCorrect: boolean[] = [];
  const grads: GradientCounts = { zero: 0, nan: 0, total: 0 };
  const numBatches = Math.ceil(n / opts.batchSize);

  for (let b = 0; b < numBatches; b++) {
    const lo = b * opts.batchSize;
    const hi = Math.min(n, lo + opts.batchSize);
    const xb = tf.slice(data.x, [lo, 0, 0, 0], [hi - lo, -1, -1, -1]);
    const labels = data.labels.slice(lo, hi);
    const targets = opts.targets?.slice(lo, hi);
    try {
      const clean = (await stochasticPredict(model, xb, passes, vote)).prediction;
      for (let i = 0; i < labels.length; i++) cleanCorrect.push(clean[i] === labels[i]);
      // C11 concerns the gradient a white-box attacker follows; score/decision attacks never ask for it.
      if (attack.threat === 'white-box') await countGradient(model, xb, labels, grads);
      const outcomes = await attack.run(model, xb, labels, epsilons, {
        seed: deriveSeed(opts.seed, 'evaluate', attack.name, b),
        targets,
        onProgress: (f, msg) => opts.onProgress?.((b + f) / numBatches, msg),
      });
      try {
        if (outcomes.length !== epsilons.length) {
          throw new Error(`attack '${attack.name}' returned ${outcomes.length} outcomes for ${epsilons.length} eps`);
        }
        for (let e = 0; e < epsilons.length; e++) {
          const o = outcomes[e];
          const adv = (await stochasticPredict(model, o.adversarial, passes, vote)).prediction;
          const norms = tf.tidy(() => perExampleNorm(tf.sub(o.adversarial, xb) as tf.Tensor4D, attack.norm));
          const normValues = await norms.data();
          norms.dispose();
          for (let i = 0; i < labels.length; i++) {
            const rec: PerSampleRecord = {
              index: data.indices ? data.indices[lo + i] : lo + i,
              label: labels[i],
              cleanPrediction: clean[i],
              adversarialPrediction: adv[i],
              success: targets ? adv[i] === targets[i] : adv[i] !== labels[i],
              eps: epsilons[e],
              perturbationNorm: normValues[i],
            };
            if (o.loss) rec.loss = o.loss[i];
            if (o.queries) rec.queries = o.queries[i];
            perSample[e].push(rec);
            queries[e].push(o.queries?.[i]);
          }
        }
      } finally {
        for (const o of outcomes) o.adversarial.dispose();
      }
    } finally {
      xb.dispose();
    }
    opts.onProgress?.((b + 1) / numBatches, `${attack.name}: batch ${b + 1}/${numBatches}`);
  }

  const wallTimeSec = (Date.now() - started) / 1000;
  const nCorrect = cleanCorrect.filter(Boolean).length;
  const gradientStats =
    grads.total > 0 ? { zeroFraction: grads.zero / grads.total, nanFraction: grads.nan / grads.total } : undefined;
  return epsilons.map((eps, e) => {
    const recs = perSample[e];
    let robust = 0;
    let successes = 0;
    recs.forEach((r, i) => {
      if (!cleanCorrect[i]) return;
      if (r.adversarialPrediction === r.label) robust++;
      if (r.success) successes++;
    });
    const run: RunRecord = {
      model: opts.modelId,
      attack: attack.name,
      threat: attack.threat,
      norm: attack.norm,
      eps,
      epsSpace: opts.epsSpace,
      params: { ...attack.params, ...resolvedStepSize(attack.params, eps), ...lossInputOf(model), seed: opts.seed, batchSize: opts.batchSize },
      n,
      cleanAccuracy: nCorrect / n,
      robustAccuracy: robust / n,
      successRate: nCorrect > 0 ? successes / nCorrect : 0,
      wallTimeSec,
    };
    if (attack.facts) run.facts = attack.facts;
    if (opts.epsInSpace) run.epsInSpace = opts.epsInSpace[e];
    if (model.gradientMode !== undefined) run.gradient = model.gradientMode;
    if (gradientStats) run.gradientStats = gradientStats;
    if (opts.targets) run.targeted = true;
    // EOT averages gradients: a score- or decision-based attack asks one noisy pass per query, so it drew 1 sample
    if (model.stochastic) run.eot = { samples: attack.threat === 'white-box' ? (eot?.samples ?? 1) : 1, evalPasses: passes };
    const q = queryStatsOf(recs, cleanCorrect);
    if (q) run.queries = q;
    return { run, perSample: recs };
  });
}

/** An imported model that outputs probabilities: every loss the attack computes sees them (C12). */
function lossInputOf(model: Classifier): { lossInput?: string } {
  return model.output === 'probabilities' ? { lossInput: 'probabilities' } : {};
}

/** A relative step size (fraction of eps) also recorded as the absolute pixel step it meant at this eps (C15). */
function resolvedStepSize(params: Readonly<Record<string, unknown>>, eps: number): { stepSize?: number } {
  return typeof params.relStepSize === 'number' && params.stepSize === undefined ? { stepSize: params.relStepSize * eps } : {};
}

function validate(data: EvaluationData, epsilons: number[], opts: EvaluateOptions, n: number): void {
  if (data.x.shape[0] !== n) throw new UserError(`evaluation data: ${data.x.shape[0]} images but ${n} labels`);
  if (data.indices && data.indices.length !== n) throw new UserError(`evaluation data: ${data.indices.length} indices for ${n} images`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new UserError(`bad batch size '${opts.batchSize}': expected an integer >= 1`);
  }
  if (opts.epsInSpace && opts.epsInSpace.length !== epsilons.length) {
    throw new UserError(`${opts.epsInSpace.length} eps in ${opts.epsSpace} space for ${epsilons.length} pixel eps`);
  }
  if (opts.targets && opts.targets.length !== n) throw new UserError(`${opts.targets.length} targets for ${n} images`);
  for (const eps of epsilons) {
    if (!Number.isFinite(eps) || eps < 0) throw new UserError(`bad eps ${eps}: expected a finite number >= 0`);
  }
}

/** C11: zero and NaN entries of the exposed input gradient of the CE loss at the clean points. */
async function countGradient(model: Classifier, x: tf.Tensor4D, labels: Int32Array, acc: GradientCounts): Promise<void> {
  if (!model.lossAndGradient) return;
  const counts = tf.tidy(() => {
    const { grad } = model.lossAndGradient!(x, tf.tensor1d(labels, 'int32'), crossEntropyLoss);
    return tf.stack([tf.sum(tf.cast(tf.equal(grad, 0), 'float32')), tf.sum(tf.cast(tf.isNaN(grad), 'float32'))]);
  });
  const [zero, nan] = await counts.data();
  counts.dispose();
  acc.zero += zero;
  acc.nan += nan;
  acc.total += x.size;
}

/**
 * Query statistics over the clean-correct examples (only they are attacked): mean/median queries of the successful
 * ones and the success-rate-versus-queries curve (attacks/blackbox/curves.ts).
 */
function queryStatsOf(recs: PerSampleRecord[], cleanCorrect: boolean[]): QueryStats | undefined {
  const rows = recs.filter((r, i) => cleanCorrect[i] && r.queries !== undefined);
  if (rows.length === 0) return undefined;
  return queryStats(
    rows.map((r) => r.success),
    rows.map((r) => r.queries!),
  );
}

/** Relative path of run `runIndex`'s per-sample file: runs/0007.jsonl. */
export function perSamplePath(runIndex: number): string {
  return `runs/${String(runIndex).padStart(4, '0')}.jsonl`;
}

/**
 * Write per-sample records as JSONL under `dir` (the folder of results.json), atomically; returns the path
 * relative to `dir` for RunRecord.perSample.
 */
export function writePerSample(dir: string, runIndex: number, records: readonly PerSampleRecord[]): string {
  if (!Number.isInteger(runIndex) || runIndex < 0) throw new UserError(`bad run index '${runIndex}': expected an integer >= 0`);
  const rel = perSamplePath(runIndex);
  const body = records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
  writeFileAtomic(path.join(dir, rel), body);
  return rel;
}
