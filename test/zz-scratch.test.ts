import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig } from '../src/models/config';
import { train } from '../src/training/trainer';
import { loadDataset } from '../datasets';
import { defaultOptimizerConfig } from '../src/training/optimizers';
import { defaultScheduleConfig } from '../src/training/schedules';

it('scratch', async () => {
  await initBackend('wasm');
  const tr = loadDataset('cifar10', 'train', { limit: 2000 });
  const te = loadDataset('cifar10', 'test', { limit: 500 });
  for (const [defense, training] of [['none', 'bp'], ['optical', 'hybrid']] as const) {
    const net = new Network(defaultModelConfig({ defense, training, width: 0.25, architecture: 'vgg16' }));
    const t0 = Date.now();
    const r = await train(net, tr, te, { epochs: 2, batchSize: 64, optimizer: defaultOptimizerConfig('adam'), schedule: defaultScheduleConfig('constant'), augment: true, seed: 0 }, { quiet: false });
    console.log(defense, r.history, (Date.now() - t0) / 1000, tf.memory().numTensors);
    net.dispose();
  }
});
