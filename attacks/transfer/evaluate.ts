/**
 * Transfer evaluation: score a transfer set on any number of target models.
 *
 * Per target and eps: clean accuracy, robust accuracy (correct on the clean AND the adversarial input, so
 * it never exceeds clean accuracy), success rate among the target's clean-correct images, and the
 * reference protocol's number: robust accuracy on the COMMON-CORRECT subset — the images that every
 * compared model (the source and all targets) classifies correctly on clean inputs (docs/method.md §5).
 * A stochastic model (camera noise) is scored, on clean and adversarial inputs, by the majority vote of
 * DEFAULT_EVAL_PASSES noisy passes, as the other attacks score it (attacks/eot.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RunRecord } from '../../src/results/schema';
import type { Classifier } from '../../src/types';
import { UserError } from '../../src/util/errors';
import type { TransferSet } from './transfer-set';
import { defaultEvalPasses, stochasticPredict } from '../eot';

export interface TransferEvaluation {
  runs: RunRecord[];
  /** Per image: every compared model is correct on the clean input. */
  commonCorrect: boolean[];
  /** Model id -> clean predictions. */
  cleanPredictions: Record<string, number[]>;
  /** Target id -> per eps -> adversarial predictions. */
  adversarialPredictions: Record<string, number[][]>;
}

/** Images that every model classifies correctly. `predictions[m][i]` is model m's prediction on image i. */
export function commonCorrectMask(labels: ArrayLike<number>, predictions: ArrayLike<number>[]): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < labels.length; i++) out.push(predictions.every((p) => p[i] === labels[i]));
  return out;
}

/** Predictions of flat NHWC images, in batches: the arg-max, or the majority vote of `passes` noisy passes. */
export async function predictFlat(
  model: Classifier,
  pixels: Float32Array,
  shape: readonly [number, number, number, number],
  batchSize = 256,
  passes = defaultEvalPasses(model),
): Promise<number[]> {
  const [n, h, w, c] = shape;
  const per = h * w * c;
  const out: number[] = [];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const x = tf.tensor4d(pixels.subarray(s * per, (s + m) * per), [m, h, w, c]);
    try {
      if (passes > 1) {
        out.push(...Array.from((await stochasticPredict(model, x, passes)).prediction));
      } else {
        const p = tf.tidy(() => tf.argMax(model.logits(x), 1));
        out.push(...Array.from((await p.data()) as Int32Array));
        p.dispose();
      }
    } finally {
      x.dispose();
    }
  }
  return out;
}

export async function evaluateTransfer(
  set: TransferSet,
  clean: tf.Tensor4D,
  source: Classifier,
  targets: Classifier[],
  options: { batchSize?: number } = {},
): Promise<TransferEvaluation> {
  const m = set.manifest;
  const [n, h, w, c] = m.shape;
  if (clean.shape.join(',') !== m.shape.join(',')) {
    throw new UserError(`clean images have shape [${clean.shape.join(',')}], the transfer set [${m.shape.join(',')}]`);
  }
  if (source.id !== m.source) {
    throw new UserError(`source model '${source.id}' is not the transfer set's source '${m.source}'`);
  }
  if (targets.length === 0) throw new UserError('no target models to evaluate the transfer set on');
  for (const t of targets) {
    const [th, tw, tc] = t.inputShape;
    if (th !== h || tw !== w || tc !== c) throw new UserError(`target '${t.id}' input [${th},${tw},${tc}] does not match [${h},${w},${c}]`);
  }
  const labels = m.labels;
  const pixels = (await clean.data()) as Float32Array;
  const cleanPredictions: Record<string, number[]> = {};
  for (const model of [source, ...targets]) {
    if (!cleanPredictions[model.id]) cleanPredictions[model.id] = await predictFlat(model, pixels, m.shape, options.batchSize);
  }
  const common = commonCorrectMask(labels, Object.values(cleanPredictions));
  const commonN = common.filter(Boolean).length;
  const runs: RunRecord[] = [];
  const adversarialPredictions: Record<string, number[][]> = {};
  for (const target of targets) {
    const cleanPred = cleanPredictions[target.id];
    const cleanCorrect = cleanPred.map((p, i) => p === labels[i]);
    const nClean = cleanCorrect.filter(Boolean).length;
    adversarialPredictions[target.id] = [];
    for (let e = 0; e < m.eps.length; e++) {
      const adv = await predictFlat(target, set.adversarial[e], m.shape, options.batchSize);
      adversarialPredictions[target.id].push(adv);
      let robust = 0;
      let robustCommon = 0;
      for (let i = 0; i < n; i++) {
        const ok = cleanCorrect[i] && adv[i] === labels[i];
        if (ok) robust++;
        if (ok && common[i]) robustCommon++;
      }
      runs.push({
        model: target.id,
        attack: m.attack,
        threat: 'transfer',
        norm: m.norm,
        eps: m.eps[e],
        epsSpace: m.epsSpace,
        ...(m.epsInSpace ? { epsInSpace: m.epsInSpace[e] } : {}),
        params: { ...m.params, sourceThreat: m.threat, seed: m.seed },
        ...(m.facts ? { facts: { ...m.facts, threat: 'transfer' as const } } : {}),
        n,
        cleanAccuracy: nClean / n,
        robustAccuracy: robust / n,
        ...(nClean > 0 ? { successRate: 1 - robust / nClean } : {}),
        source: m.source,
        commonCorrect: { n: commonN, robustAccuracy: commonN > 0 ? robustCommon / commonN : 0 },
        // a noisy target is scored by the vote, clean and adversarial alike (predictFlat); no gradient is drawn on it
        ...(target.stochastic ? { eot: { samples: 1, evalPasses: defaultEvalPasses(target) } } : {}),
      });
    }
  }
  return { runs, commonCorrect: common, cleanPredictions, adversarialPredictions };
}
