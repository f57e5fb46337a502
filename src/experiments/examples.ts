/** The report's example images of an attack job: clean and adversarial images of the first test examples. */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../datasets/types';
import { takeTensors } from '../../datasets/batches';
import type { Network } from '../models/network';
import { modelId } from '../models/config';
import { resolveAttack } from '../plugins/attack';
import { attackedClassifier } from '../parallel/attacked-classifier';
import type { ExampleImage, ReportExample } from '../results/schema';
import { AttackRequest, attackParams, epsInPixels } from './execute';

/** Three example images (clean, adversarial) at the largest eps, for the report. */
export async function exampleImages(net: Network, data: Dataset, req: AttackRequest): Promise<{ examples: ReportExample[] } | undefined> {
  const { pixel } = epsInPixels(req, net.config.normalization.std);
  const eps = Math.max(...pixel);
  if (!(eps > 0)) return undefined;
  const model = attackedClassifier(net, req);
  const attack = resolveAttack(req.attack, attackParams(req, net.config.normalization.std));
  const idx = [0, 1, 2].filter((i) => i < data.n);
  const { x, y } = takeTensors(data, idx);
  const labels = Int32Array.from(y.dataSync());
  y.dispose();
  try {
    const [o] = await attack.run(model, x, labels, [eps], { seed: req.seed });
    const clean = x.dataSync();
    const adv = o.adversarial.dataSync();
    const advPred = o.adversarialPrediction ?? (await predictLabels(model.logits(o.adversarial)));
    const cleanPred = await predictLabels(model.logits(x));
    o.adversarial.dispose();
    const size = 32 * 32 * 3;
    const img = (a: Float32Array | Int32Array | Uint8Array, i: number): ExampleImage => ({
      width: 32,
      height: 32,
      channels: 3 as const,
      data: Buffer.from(Uint8Array.from(a.subarray(i * size, (i + 1) * size), (v) => Math.round(Math.max(0, Math.min(1, v)) * 255))).toString('base64'),
    });
    return {
      examples: idx.map((i) => ({
        model: modelId(net.config),
        attack: req.attack,
        eps,
        label: data.classNames[labels[i]] ?? labels[i],
        cleanPrediction: data.classNames[cleanPred[i]] ?? cleanPred[i],
        adversarialPrediction: data.classNames[advPred[i]] ?? advPred[i],
        clean: img(clean, i),
        adversarial: img(adv, i),
      })),
    };
  } finally {
    x.dispose();
  }
}

async function predictLabels(logits: tf.Tensor2D): Promise<number[]> {
  const p = tf.argMax(logits, 1);
  logits.dispose();
  const out = Array.from(await p.data());
  p.dispose();
  return out;
}
