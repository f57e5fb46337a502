/**
 * Layer-similarity probe (after Piriyajitakonkij et al. 2024, who compare images by correlating early-layer
 * "low-level" and late-layer "high-level" features): for every layer of a network, from the input pixels through
 * each feature stage and the head to the logits,
 *   cleanVsAdv      mean over examples i of corr(f(x_i), f(x_i + delta_i))
 *   sameClass       mean over pairs i != j with y_i == y_j of corr(f(x_i), f(x_j))   (clean images)
 *   differentClass  mean over pairs with y_i != y_j of corr(f(x_i), f(x_j))          (clean images)
 * where corr is the PEARSON correlation of the two flattened per-example feature vectors (not CKA): each vector is
 * centred on its own mean and scaled to unit L2 norm, so corr = dot product. A constant (zero-variance) vector,
 * e.g. a dead ReLU map, has no defined correlation and counts as 0.
 *
 * How to read it: an attack that leaves low-level (early) features nearly intact but drives late-layer features
 * to another class shows cleanVsAdv near 1 early, falling towards or below the differentClass level late.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import type { Network } from '../models/network';
import type { ProbeCurve, ProbeExtra } from '../results/schema';

/** Floor of the row norm: rows whose centred norm is below it are treated as constant (correlation 0). */
const NORM_FLOOR = 1e-12;

/** Rows of [n, ...] flattened, centred and scaled to unit L2 norm (zero rows stay zero). */
export function standardizeRows(features: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const flat = tf.reshape(features, [features.shape[0], -1]) as tf.Tensor2D;
    const centred = tf.sub(flat, tf.mean(flat, 1, true));
    const norm = tf.sqrt(tf.sum(tf.square(centred), 1, true));
    const safe = tf.where(tf.greater(norm, NORM_FLOOR), norm, tf.onesLike(norm));
    const scaled = tf.div(centred, safe);
    return tf.where(tf.greater(tf.tile(norm, [1, flat.shape[1]]), NORM_FLOOR), scaled, tf.zerosLike(scaled)) as tf.Tensor2D;
  });
}

/** Pearson correlation of each row of a with the same row of b ([n, ...] each). */
export function rowCorrelations(a: tf.Tensor, b: tf.Tensor): Float32Array {
  if (a.shape.join('x') !== b.shape.join('x')) throw new UserError(`rowCorrelations: shapes [${a.shape}] and [${b.shape}] differ`);
  const c = tf.tidy(() => tf.sum(tf.mul(standardizeRows(a), standardizeRows(b)), 1));
  const out = c.dataSync() as Float32Array;
  c.dispose();
  return Float32Array.from(out);
}

export interface LayerSimilarity {
  cleanVsAdv: number;
  sameClass: number;
  differentClass: number;
}

/**
 * The three similarities of one layer from standardized rows (standardizeRows) of the clean and adversarial
 * features of the same n examples.
 */
export function layerSimilarity(zClean: tf.Tensor2D, zAdv: tf.Tensor2D, labels: ArrayLike<number>): LayerSimilarity {
  const n = zClean.shape[0];
  if (labels.length !== n || zAdv.shape[0] !== n) throw new UserError(`layerSimilarity: ${n} clean rows, ${zAdv.shape[0]} adversarial rows, ${labels.length} labels`);
  const [paired, gram] = tf.tidy(() => [tf.sum(tf.mul(zClean, zAdv), 1), tf.matMul(zClean, zClean, false, true)]);
  const p = paired.dataSync();
  const g = gram.dataSync();
  tf.dispose([paired, gram]);
  let adv = 0;
  for (let i = 0; i < n; i++) adv += p[i];
  let same = 0;
  let nSame = 0;
  let diff = 0;
  let nDiff = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (labels[i] === labels[j]) {
        same += g[i * n + j];
        nSame++;
      } else {
        diff += g[i * n + j];
        nDiff++;
      }
    }
  }
  if (nSame === 0 || nDiff === 0) {
    throw new UserError(`the probe needs two images of one class and two of different classes among its ${n} samples: use more --samples`);
  }
  return { cleanVsAdv: adv / n, sameClass: same / nSame, differentClass: diff / nDiff };
}

export interface ProbeFeatures {
  /** Layer names, low level to high level: input, [input-transform], feature stages, head layers, logits. */
  layers: string[];
  /** Standardized rows per layer (caller disposes). */
  rows: tf.Tensor2D[];
}

/** What a probed model computes on one batch: `keep(name, value)` for each of its layers, low level to high level. */
export type LayerObserver = (xb: tf.Tensor4D, keep: (name: string, t: tf.Tensor) => void) => void;

/**
 * Eval-mode features of every layer (via Network.forward's `observe` callback), standardized per example, for
 * x in batches of `batchSize`. Stochastic models draw fresh noise as in any forward pass.
 */
export function collectFeatures(net: Network, x: tf.Tensor4D, batchSize = 50): ProbeFeatures {
  return collectFeaturesWith(
    (xb, keep) => {
      keep('input', xb);
      const logits = net.forward(xb, { training: false, gradient: { dfa: false, sign: 'zero', opu: 'none' }, observe: keep });
      keep('logits', logits);
    },
    x,
    batchSize,
  );
}

/** Standardized rows per layer of any model (`observe` names its layers), for x in batches of `batchSize`. */
export function collectFeaturesWith(observe: LayerObserver, x: tf.Tensor4D, batchSize = 50): ProbeFeatures {
  let layers: string[] | null = null;
  const parts: tf.Tensor2D[][] = [];
  try {
    for (let lo = 0; lo < x.shape[0]; lo += batchSize) {
      const size = Math.min(batchSize, x.shape[0] - lo);
      const names: string[] = [];
      const rows: tf.Tensor2D[] = [];
      tf.tidy(() => {
        const xb = tf.slice(x, [lo, 0, 0, 0], [size, -1, -1, -1]);
        observe(xb, (name: string, t: tf.Tensor): void => {
          names.push(name);
          rows.push(tf.keep(standardizeRows(t)));
        });
      });
      if (layers && layers.join('|') !== names.join('|')) {
        tf.dispose(rows);
        throw new Error(`probe: layer list changed between batches (${layers.join(',')} vs ${names.join(',')})`);
      }
      layers = names;
      parts.push(rows);
    }
    if (!layers) throw new UserError('probe: no samples to probe');
    const found = layers;
    const out = found.map((_, l) => (parts.length === 1 ? parts[0][l] : (tf.concat(parts.map((p) => p[l]), 0) as tf.Tensor2D)));
    if (parts.length > 1) for (const p of parts) tf.dispose(p);
    parts.length = 0;
    return { layers: found, rows: out };
  } finally {
    for (const p of parts) tf.dispose(p);
  }
}

export interface ProbeInput {
  model: string;
  attack?: string;
  /** Pixel units. */
  eps?: number;
}

/** One probe curve (reports/extras.ts ProbeCurve) for clean images x and their adversarial versions. */
export function probeNetwork(
  net: Network,
  clean: tf.Tensor4D,
  adversarial: tf.Tensor4D,
  labels: ArrayLike<number>,
  meta: ProbeInput,
  batchSize = 50,
): { layers: string[]; curve: ProbeCurve } {
  return probeModel((x) => collectFeatures(net, x, batchSize), clean, adversarial, labels, meta);
}

/** probeNetwork for any model whose features `collect` gives (a model file: src/probe/file-features.ts). */
export function probeModel(
  collect: (x: tf.Tensor4D) => ProbeFeatures,
  clean: tf.Tensor4D,
  adversarial: tf.Tensor4D,
  labels: ArrayLike<number>,
  meta: ProbeInput,
): { layers: string[]; curve: ProbeCurve } {
  if (clean.shape.join('x') !== adversarial.shape.join('x')) {
    throw new UserError(`probe: clean [${clean.shape}] and adversarial [${adversarial.shape}] batches differ in shape`);
  }
  const c = collect(clean);
  let a: ProbeFeatures | null = null;
  try {
    a = collect(adversarial);
    const curve: ProbeCurve = { model: meta.model, cleanVsAdv: [], sameClass: [], differentClass: [] };
    if (meta.attack !== undefined) curve.attack = meta.attack;
    if (meta.eps !== undefined) curve.eps = meta.eps;
    c.layers.forEach((_, l) => {
      const s = layerSimilarity(c.rows[l], a!.rows[l], labels);
      curve.cleanVsAdv.push(s.cleanVsAdv);
      curve.sameClass.push(s.sameClass);
      curve.differentClass.push(s.differentClass);
    });
    return { layers: c.layers, curve };
  } finally {
    tf.dispose(c.rows);
    if (a) tf.dispose(a.rows);
  }
}

/** Join probe results into the report's extras.probe (all must share one layer list: one architecture). */
export function probeExtra(results: readonly { layers: string[]; curve: ProbeCurve }[]): ProbeExtra {
  if (!results.length) throw new UserError('probeExtra: no probe results');
  // Models with different heads (baseline vs optical) share their backbone stages and the logits: compare them on
  // the layers they have in common, in the first model's order.
  const layers = results[0].layers.filter((l) => results.every((r) => r.layers.includes(l)));
  if (layers.length === 0) {
    throw new UserError(`probe curves of '${results[0].curve.model}' and the other models share no layer; probe models with one backbone`);
  }
  const pick = (r: { layers: string[] }, values: number[]): number[] => layers.map((l) => values[r.layers.indexOf(l)]);
  return {
    layers: [...layers],
    curves: results.map((r) => ({
      ...r.curve,
      cleanVsAdv: pick(r, r.curve.cleanVsAdv),
      sameClass: pick(r, r.curve.sameClass),
      differentClass: pick(r, r.curve.differentClass),
    })),
  };
}
