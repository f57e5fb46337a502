/**
 * The probe job behind `opulab probe`: load a checkpoint or a model file, attack its first N test images at one
 * eps, and measure the layer-by-layer feature similarity of clean vs adversarial images (src/probe/similarity.ts;
 * the layers of a model file: src/probe/file-features.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier } from '../types';
import type { ProbeExtra } from '../results/schema';
import { loadDataset, parseDatasetName, prepareDataset } from '../../datasets';
import { takeTensors } from '../../datasets/batches';
import { parseEps } from '../../attacks/eps';
import { withEot } from '../../attacks/eot';
import { gradientModesOf } from '../models/classifier';
import { EngineName, releaseEngine, engineClassifier } from '../engine';
import { modelId } from '../models/config';
import { loadNetwork } from '../training/trainer';
import { resolveAttack } from '../plugins/attack';
import { findGradientMode } from '../../defenses/registry';
import { UserError } from '../util/errors';
import { deriveSeed } from '../util/rng';
import { collectFeaturesWith, probeExtra, probeModel, probeNetwork } from './similarity';
import type { ProbeCurve } from '../results/schema';
import { checkDataFits, loadModelFile, type ModelFileRef } from '../import';
import { fileFeatureSource, fileObserver } from './file-features';

export interface ProbeRequest {
  checkpoints: string[];
  /** Model files (src/import) probed after the checkpoints, on their layers (./file-features.ts). */
  modelFiles?: ModelFileRef[];
  /** Attack name or plugin file. */
  attack: string;
  params: Record<string, unknown>;
  /** e.g. '8/255' (pixel units). */
  eps: string;
  gradient: string;
  signSurrogate: string;
  /** EOT gradient samples for stochastic models (0 = off). */
  eot: number;
  samples: number;
  batchSize: number;
  seed: number;
  dataDir?: string;
  /** Download the dataset when missing (default true). */
  download?: boolean;
  /** Default: the dataset the checkpoint was trained on (else cifar10). */
  dataset?: string;
  log?: (line: string) => void;
  /** Engine of the attack's classifier (default tfjs; the features are probed on tfjs). */
  engine?: EngineName;
}

/** Adversarial versions of x (attack run batch by batch at one eps). Caller disposes. */
async function craft(model: Classifier, req: ProbeRequest, x: tf.Tensor4D, labels: Int32Array, eps: number): Promise<tf.Tensor4D> {
  const attack = resolveAttack(req.attack, req.params);
  const parts: tf.Tensor4D[] = [];
  try {
    for (let lo = 0, b = 0; lo < labels.length; lo += req.batchSize, b++) {
      const size = Math.min(req.batchSize, labels.length - lo);
      const xb = tf.slice(x, [lo, 0, 0, 0], [size, -1, -1, -1]);
      try {
        const [outcome, ...rest] = await attack.run(model, xb, labels.slice(lo, lo + size), [eps], { seed: deriveSeed(req.seed, 'probe', b) });
        tf.dispose(rest.map((o) => o.adversarial));
        parts.push(outcome.adversarial);
      } finally {
        xb.dispose();
      }
    }
    return parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor4D);
  } finally {
    if (parts.length > 1) tf.dispose(parts);
  }
}

export async function runProbe(req: ProbeRequest): Promise<ProbeExtra> {
  if (!Number.isInteger(req.samples) || req.samples < 4) throw new UserError(`bad --samples ${req.samples}: expected an integer >= 4`);
  if (!Number.isInteger(req.batchSize) || req.batchSize < 1) throw new UserError(`bad --batch-size ${req.batchSize}: expected a positive integer`);
  if (!req.checkpoints.length && !req.modelFiles?.length) throw new UserError('probe: give at least one --checkpoint DIR or --model FILE');
  const eps = parseEps(req.eps);
  const results: { layers: string[]; curve: ProbeCurve }[] = [];
  for (const dir of req.checkpoints) {
    const { net, meta } = loadNetwork(dir);
    try {
      const dataset = parseDatasetName(req.dataset ?? String(meta.train.dataset ?? 'cifar10'));
      await prepareDataset(dataset, { dataDir: req.dataDir, download: req.download });
      const data = loadDataset(dataset, 'test', { dataDir: req.dataDir, limit: req.samples, seed: Number(meta.train.seed ?? 0) });
      const { x, y } = takeTensors(data, Array.from({ length: data.n }, (_, i) => i));
      const labels = Int32Array.from(y.dataSync());
      y.dispose();
      try {
        // One gradient mode for several models: a model whose defense does not declare it is probed with its
        // natural gradient (the label below records the mode actually used).
        const declared = findGradientMode(gradientModesOf(net), req.gradient) !== undefined;
        if (!declared) req.log?.(`${modelId(net.config)}: defense ${net.defense.name} has no '${req.gradient}' gradient; probing with its natural gradient`);
        const used = declared ? req.gradient : 'natural';
        const c = engineClassifier(net, used, req.signSurrogate, deriveSeed(req.seed, 'sysid'), req.engine ?? 'tfjs');
        const model: Classifier = c.stochastic && req.eot > 0 ? withEot(c, { samples: req.eot }) : c;
        const adv = await craft(model, req, x, labels, eps);
        try {
          const attackLabel = used === 'natural' ? req.attack : `${req.attack} (${c.gradientMode})`;
          const r = probeNetwork(net, x, adv, labels, { model: modelId(net.config), attack: attackLabel, eps }, req.batchSize);
          req.log?.(`${r.curve.model}: ${r.layers.length} layers probed on ${labels.length} ${dataset} images`);
          results.push(r);
        } finally {
          adv.dispose();
        }
      } finally {
        x.dispose();
      }
    } finally {
      releaseEngine(net);
      net.dispose();
    }
  }
  for (const ref of req.modelFiles ?? []) results.push(await probeModelFile(ref, req, eps));
  return probeExtra(results);
}

/** The probe of one model file: its own natural gradient crafts the images, its layers are read by file-features.ts. */
async function probeModelFile(ref: ModelFileRef, req: ProbeRequest, eps: number): Promise<{ layers: string[]; curve: ProbeCurve }> {
  const m = await loadModelFile(ref.path, { ...ref.options, engine: req.engine, announce: false });
  try {
    const dataset = parseDatasetName(req.dataset ?? 'cifar10');
    await prepareDataset(dataset, { dataDir: req.dataDir, download: req.download });
    const data = loadDataset(dataset, 'test', { dataDir: req.dataDir, limit: req.samples });
    checkDataFits(m, data);
    if (req.gradient !== 'natural') req.log?.(`${m.classifier.id}: a model file has no '${req.gradient}' gradient; probing with its natural gradient`);
    const { x, y } = takeTensors(data, Array.from({ length: data.n }, (_, i) => i));
    const labels = Int32Array.from(y.dataSync());
    y.dispose();
    const source = fileFeatureSource(m);
    try {
      const adv = await craft(m.classifier, req, x, labels, eps);
      try {
        const observe = fileObserver(m, source);
        const r = probeModel((t) => collectFeaturesWith(observe, t, req.batchSize), x, adv, labels, { model: m.classifier.id, attack: req.attack, eps });
        req.log?.(`${r.curve.model}: ${r.layers.length} layers probed on ${labels.length} ${dataset} images`);
        return r;
      } finally {
        adv.dispose();
      }
    } finally {
      source.dispose();
      x.dispose();
    }
  } finally {
    m.dispose();
  }
}
