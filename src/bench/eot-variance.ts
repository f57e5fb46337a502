#!/usr/bin/env node
/**
 * `node dist/src/bench/eot-variance.js --checkpoint DIR --gradient bpda-true --samples 1,5,10,20 --images 64`
 *
 * How many EOT samples a noisy model needs (attacks/eot.ts): for each k, two independent EOT-k gradient estimates
 * at the same clean images (the camera stream's successive draws), and a reference estimate from 4 x max(k) draws.
 * One JSON line per k: the median over images of the cosine between the two EOT-k estimates and between one of
 * them and the reference, and the fraction of input entries whose sign (the direction an L-inf step takes) agrees
 * with the reference. A k whose sign agreement is near the reference's own (the line with the largest k) gains
 * little from more samples. Runs on ONNX Runtime when the model has a graph (one graph run per estimate), else on
 * tfjs; the test images are the first `--images` of the checkpoint's dataset.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index';
import { loadNetwork } from '../training/checkpoint';
import { engineClassifier, releaseEngine, parseEngine } from '../engine';
import { withEot } from '../../attacks/eot';
import { lossFor } from '../../attacks/losses';
import { loadDataset, parseDatasetName } from '../../datasets/load';
import { isUserError, UserError } from '../util/errors';
import { median } from '../util/numeric';
import type { Classifier } from '../types';

export interface EotVarianceRecord {
  gradient: string;
  samples: number;
  reference_samples: number;
  images: number;
  /** Median over images of cos(EOT-k estimate, an independent EOT-k estimate). */
  cosine_between_estimates: number;
  /** Median over images of cos(EOT-k estimate, reference estimate). */
  cosine_to_reference: number;
  /** Fraction of input entries whose gradient sign equals the reference's. */
  sign_agreement: number;
  /** Mean seconds of the two timed estimates (an untimed one before them builds the session for k copies). */
  seconds_per_estimate: number;
}

/** Per-image cosine of two [n, d] gradient arrays. */
export function rowCosines(a: Float32Array, b: Float32Array, n: number): number[] {
  const d = a.length / n;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      ab += a[j] * b[j];
      aa += a[j] * a[j];
      bb += b[j] * b[j];
    }
    out.push(aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0);
  }
  return out;
}

export function signAgreement(a: Float32Array, b: Float32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (Math.sign(a[i]) === Math.sign(b[i])) same++;
  return same / a.length;
}

function estimate(model: Classifier, k: number, x: tf.Tensor4D, y: tf.Tensor1D): { grad: Float32Array; seconds: number } {
  const eot = withEot(model, { samples: k });
  const t0 = Date.now();
  const r = eot.lossAndGradient!(x, y, lossFor('ce', false));
  const grad = Float32Array.from(r.grad.dataSync());
  tf.dispose([r.loss, r.grad]);
  return { grad, seconds: (Date.now() - t0) / 1000 };
}

export function eotVariance(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, samples: number[], gradient: string): EotVarianceRecord[] {
  if (!model.stochastic) throw new UserError(`model '${model.id}' is deterministic: EOT averages nothing there`);
  const kRef = 4 * Math.max(...samples);
  const ref = estimate(model, kRef, x, y).grad;
  const n = x.shape[0];
  return samples.map((k) => {
    // untimed first: on ONNX Runtime the first EOT-k estimate also builds the graph and session for k copies
    estimate(model, k, x, y);
    const a = estimate(model, k, x, y);
    const b = estimate(model, k, x, y);
    return {
      gradient,
      samples: k,
      reference_samples: kRef,
      images: n,
      cosine_between_estimates: median(rowCosines(a.grad, b.grad, n)),
      cosine_to_reference: median(rowCosines(a.grad, ref, n)),
      sign_agreement: signAgreement(a.grad, ref),
      seconds_per_estimate: (a.seconds + b.seconds) / 2,
    };
  });
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory of a stochastic model' })
    .option('gradient', { type: 'string', default: 'bpda-true', describe: 'comma-separated gradient modes' })
    .option('samples', { type: 'string', default: '1,5,10,20', describe: 'comma-separated EOT sample counts' })
    .option('images', { type: 'number', default: 64, describe: 'first N test images' })
    .option('engine', { type: 'string', default: 'auto' })
    .option('data-dir', { type: 'string' })
    .strict()
    .parse();
  const samples = argv.samples.split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 1) throw new UserError(`bad --samples entry '${s}': expected a positive integer`);
    return v;
  });
  if (!Number.isInteger(argv.images) || argv.images < 1) throw new UserError(`bad --images ${argv.images}: expected a positive integer`);
  const engine = parseEngine(argv.engine);
  await initBackend('auto', true);
  const { net, meta } = loadNetwork(argv.checkpoint);
  const data = loadDataset(parseDatasetName(String(meta.train.dataset ?? 'cifar10')), 'test', { dataDir: argv['data-dir'], limit: argv.images });
  const x = tf.tidy(() => tf.div(tf.tensor4d(data.images, [data.n, data.height, data.width, data.channels], 'float32'), 255) as tf.Tensor4D);
  const y = tf.tensor1d(data.labels, 'int32');
  try {
    for (const gradient of argv.gradient.split(',')) {
      const model = engineClassifier(net, gradient, 'ste', 0, engine, { threads: 1 });
      for (const r of eotVariance(model, x, y, samples, gradient)) process.stdout.write(`${JSON.stringify(r)}\n`);
    }
  } finally {
    tf.dispose([x, y]);
    releaseEngine(net);
    net.dispose();
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`eot-variance: ${isUserError(e) ? e.message : e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(isUserError(e) ? 2 : 1);
  });
}
