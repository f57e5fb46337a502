/**
 * How good is a system-identification estimate for an attacker? Compares the 'estimated' and the 'true'
 * OPU input gradients (cosine similarity) on random inputs and random upstream gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRng } from '../util/rng';
import { UserError } from '../util/errors';
import { CameraOptions } from './camera';
import { OpticalProcessingUnit, OpuMode } from './opu';
import { SysidMethod } from './sysid';

export interface GradientAgreement {
  /** Mean over samples of cos(true gradient, estimated gradient). */
  meanCosine: number;
  minCosine: number;
  samples: number;
}

/** Cosine between the 'true' and 'estimated' input gradients of `opu` (which must hold an estimate). */
export function gradientCosine(opu: OpticalProcessingUnit, opts: { samples?: number; seed: number }): GradientAgreement {
  const samples = opts.samples ?? 32;
  if (!Number.isInteger(samples) || samples < 1) throw new UserError(`samples = ${samples}: expected a positive integer`);
  if (!opu.estimate) throw new UserError('gradientCosine needs an OPU with an estimate (call estimateFromQueries first)');
  const rng = makeRng(opts.seed, 'sysid-quality');
  const n = opu.inFeatures;
  const x = new Float32Array(samples * n);
  const lo = opu.inputValues === 'signed' ? -1 : 0;
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform() < 0.5 ? 1 : lo;
  const cos = tf.tidy(() => {
    const xt = tf.tensor2d(x, [samples, n]);
    const g = tf.randomNormal<tf.Rank.R2>([samples, opu.outFeatures], 0, 1, 'float32', rng.nextSeed());
    const a = opu.backward('true', xt, g);
    const b = opu.backward('estimated', xt, g);
    const dot = tf.sum(tf.mul(a, b), 1);
    const norms = tf.mul(tf.norm(a, 'euclidean', 1), tf.norm(b, 'euclidean', 1));
    return tf.div(dot, tf.maximum(norms, 1e-30));
  });
  const v = cos.dataSync();
  cos.dispose();
  let sum = 0;
  let min = Infinity;
  for (const c of v) {
    sum += c;
    min = Math.min(min, c);
  }
  return { meanCosine: sum / v.length, minCosine: min, samples };
}

export interface SysidQualityConfig {
  inFeatures: number;
  outFeatures: number;
  mode: OpuMode;
  seed: number;
  /** Query budgets to try (one estimate each). */
  queryCounts: readonly number[];
  method?: SysidMethod;
  camera?: CameraOptions;
  samples?: number;
}

export interface SysidQualityRow {
  inFeatures: number;
  outFeatures: number;
  mode: OpuMode;
  method: string;
  queries: number;
  meanCosine: number;
  minCosine: number;
  seconds: number;
}

/** Estimate quality as the query budget grows (one row per budget). */
export function measureSysidQuality(cfg: SysidQualityConfig): SysidQualityRow[] {
  const opu = new OpticalProcessingUnit({
    inFeatures: cfg.inFeatures,
    outFeatures: cfg.outFeatures,
    mode: cfg.mode,
    seed: cfg.seed,
    camera: cfg.camera,
  });
  try {
    return cfg.queryCounts.map((queries) => {
      const t0 = Date.now();
      const est = opu.estimateFromQueries(queries, cfg.seed + 1, { method: cfg.method });
      const seconds = (Date.now() - t0) / 1000;
      const agreement = gradientCosine(opu, { samples: cfg.samples, seed: cfg.seed + 2 });
      return {
        inFeatures: cfg.inFeatures,
        outFeatures: cfg.outFeatures,
        mode: cfg.mode,
        method: est.method,
        queries: est.queries,
        meanCosine: agreement.meanCosine,
        minCosine: agreement.minCosine,
        seconds,
      };
    });
  } finally {
    opu.dispose();
  }
}
