import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig } from '../src/models/config';
import { saveCheckpoint } from '../src/training/checkpoint';
import { evaluateAttackParallel } from '../src/parallel/evaluate-parallel';

test('smoke', async () => {
  await initBackend('wasm', true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'par-'));
  const net = new Network(defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32 }));
  saveCheckpoint(dir, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
  net.dispose();
  const job = { checkpointDir: dir, gradientMode: 'natural', signSurrogate: 'ste', attack: 'pgd', attackParams: { steps: 3 }, epsPixel: [0.01, 0.03],
    epsSpace: 'pixel' as const, dataset: { name: 'synthetic' as const, split: 'test' as const, indices: Array.from({ length: 10 }, (_, i) => i * 3) }, batchSize: 4, seed: 1, modelId: 'm' };
  let t = Date.now();
  const a = await evaluateAttackParallel(job, { workers: 1 });
  console.log('w1', Date.now() - t); t = Date.now();
  const b = await evaluateAttackParallel(job, { workers: 2, onProgress: (f, m) => process.stderr.write(`${f.toFixed(2)} ${m}\n`) });
  console.log('w2', Date.now() - t);
  console.log(JSON.stringify(a[1].run), JSON.stringify(b[1].run));
  expect(b.map((r) => r.perSample)).toEqual(a.map((r) => r.perSample));
});
