/**
 * Expectation over Transformation (Athalye, Carlini & Wagner 2018, "Obfuscated Gradients Give a False Sense
 * of Security", §4.3): against a randomized model, attack the EXPECTED loss. `EotClassifier` wraps a
 * Classifier so that `lossAndGradient` returns the mean loss and mean input gradient over k independent
 * stochastic passes (default k = 20); attacks stay unaware of it. A deterministic model is passed through
 * unchanged (averaging identical gradients would only cost time). When the inner model offers
 * `expectedLossAndGradient` (the ONNX Runtime engine on a noisy camera), the k passes are its one call: it runs the
 * deterministic features once and only the camera and head k times, with the same noise draws and the same mean.
 *
 * Final accuracy under randomness: `stochasticPredict` runs several forward passes and takes, by default,
 * the MAJORITY vote of the per-pass arg-max (what a deployed system answering repeated queries would say;
 * ties go to the class with the larger summed probability). `mode: 'mean'` instead takes the arg-max of
 * the mean softmax probabilities.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, LossAndGradient, LossFn } from '../src/types';
import { UserError } from '../src/util/errors';
import { meanOfCalls } from '../src/util/loss-gradient';

export const DEFAULT_EOT_SAMPLES = 20;
/** Forward passes whose vote scores a stochastic model's predictions (EotOptions.evalPasses). */
export const DEFAULT_EVAL_PASSES = 10;

/** Passes that score `model` by default: the vote of DEFAULT_EVAL_PASSES on a stochastic model, else one. */
export function defaultEvalPasses(model: Classifier): number {
  return model.stochastic ? DEFAULT_EVAL_PASSES : 1;
}
export type StochasticVote = 'majority' | 'mean';

export interface EotOptions {
  /** Gradient samples averaged per lossAndGradient call (default 20). */
  samples?: number;
  /** Forward passes used to score final predictions (default 1 for deterministic models, else 10). */
  evalPasses?: number;
  vote?: StochasticVote;
}

/** What a run records about EOT (RunRecord.eot). */
export interface EotRecord {
  samples: number;
  evalPasses: number;
  vote: StochasticVote;
}

export class EotClassifier implements Classifier {
  readonly id: string;
  readonly numClasses: number;
  readonly inputShape: readonly [number, number, number];
  readonly stochastic: boolean;
  readonly normalizationStd: readonly number[];
  readonly gradientMode?: string;
  readonly eot: EotRecord;
  readonly lossAndGradient?: (x: tf.Tensor4D, labels: tf.Tensor1D, loss: LossFn) => LossAndGradient;
  /** Gradient samples drawn from the inner model so far (tests and logs). */
  samplesDrawn = 0;

  constructor(
    readonly inner: Classifier,
    opts: EotOptions = {},
  ) {
    const samples = opts.samples ?? DEFAULT_EOT_SAMPLES;
    const evalPasses = opts.evalPasses ?? defaultEvalPasses(inner);
    if (!Number.isInteger(samples) || samples < 1) throw new UserError(`bad EOT samples '${samples}': expected an integer >= 1`);
    if (!Number.isInteger(evalPasses) || evalPasses < 1) {
      throw new UserError(`bad EOT evalPasses '${evalPasses}': expected an integer >= 1`);
    }
    this.id = inner.id;
    this.numClasses = inner.numClasses;
    this.inputShape = inner.inputShape;
    this.stochastic = inner.stochastic;
    this.normalizationStd = inner.normalizationStd;
    this.gradientMode = inner.gradientMode;
    const k = inner.stochastic ? samples : 1;
    this.eot = { samples: k, evalPasses, vote: opts.vote ?? 'majority' };
    const innerGrad = inner.lossAndGradient?.bind(inner);
    const innerExpected = inner.expectedLossAndGradient?.bind(inner);
    if (innerGrad) {
      this.lossAndGradient = (x, labels, loss) => {
        if (k === 1) {
          this.samplesDrawn++;
          return innerGrad(x, labels, loss);
        }
        if (innerExpected) {
          // the inner model averages the k passes itself (one graph run on ONNX Runtime; same noise, same mean)
          this.samplesDrawn += k;
          return innerExpected(x, labels, loss, k);
        }
        return meanOfCalls(k, () => {
          const r = innerGrad(x, labels, loss);
          this.samplesDrawn++;
          return r;
        });
      };
    }
  }

  /** One stochastic forward pass of the inner model. */
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return this.inner.logits(x);
  }
}

/** Wrap `model` for EOT (the wrapper records the settings in `.eot`). */
export function withEot(model: Classifier, opts: EotOptions = {}): EotClassifier {
  return new EotClassifier(model, opts);
}

/** The EOT record of a model wrapped by `withEot`, else undefined. */
export function eotRecordOf(model: Classifier): EotRecord | undefined {
  return model instanceof EotClassifier ? model.eot : undefined;
}

/**
 * The class several passes vote for, from their per-class arg-max counts and summed softmax probabilities at
 * [offset, offset + k): the most votes, ties to the larger summed probability ('majority'), or the largest summed
 * probability ('mean').
 */
export function votedClass(votes: ArrayLike<number>, probSum: ArrayLike<number>, offset: number, k: number, vote: StochasticVote): number {
  let best = 0;
  for (let j = 1; j < k; j++) {
    const a = offset + j;
    const b = offset + best;
    const better = vote === 'mean' ? probSum[a] > probSum[b] : votes[a] > votes[b] || (votes[a] === votes[b] && probSum[a] > probSum[b]);
    if (better) best = j;
  }
  return best;
}

/**
 * Predictions over `passes` forward passes: majority vote (default) or arg-max of the mean probabilities.
 * `agreement[i]` is the fraction of passes whose arg-max equals the returned prediction.
 */
export async function stochasticPredict(
  model: Classifier,
  x: tf.Tensor4D,
  passes: number,
  vote: StochasticVote = 'majority',
): Promise<{ prediction: Int32Array; agreement: Float32Array }> {
  if (!Number.isInteger(passes) || passes < 1) throw new UserError(`bad evaluation passes '${passes}': expected an integer >= 1`);
  const n = x.shape[0];
  const c = model.numClasses;
  const votes = new Float64Array(n * c);
  const probSum = new Float64Array(n * c);
  const argmaxes: Int32Array[] = [];
  for (let p = 0; p < passes; p++) {
    const [prob, am] = tf.tidy(() => {
      const z = model.logits(x);
      return [tf.softmax(z), tf.argMax(z, 1)];
    });
    const pv = await prob.data();
    const av = Int32Array.from((await am.data()) as Int32Array);
    tf.dispose([prob, am]);
    for (let i = 0; i < n * c; i++) probSum[i] += pv[i];
    for (let i = 0; i < n; i++) votes[i * c + av[i]] += 1;
    argmaxes.push(av);
  }
  const prediction = new Int32Array(n);
  const agreement = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const best = votedClass(votes, probSum, i * c, c, vote);
    prediction[i] = best;
    agreement[i] = argmaxes.reduce((s, av) => s + (av[i] === best ? 1 : 0), 0) / passes;
  }
  return { prediction, agreement };
}
