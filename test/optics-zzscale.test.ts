import { initBackend } from '../src/backend';
import * as tf from '@tensorflow/tfjs-core';
beforeAll(async () => { await initBackend('wasm', true); });
it('mm', () => {
  const x = tf.randomNormal([262, 922]) as tf.Tensor2D;
  const y = tf.randomNormal([262, 8000]) as tf.Tensor2D;
  const time = (name: string, f: () => tf.Tensor) => { f().dispose(); const t0 = Date.now(); for (let i = 0; i < 3; i++) f().dispose(); console.log(name, (Date.now() - t0) / 3); };
  time('xtx transposeA', () => tf.matMul(x, x, true, false));
  time('xtx explicit', () => tf.matMul(tf.transpose(x), x));
  time('xty transposeA', () => tf.matMul(x, y, true, false));
  time('xty explicit', () => tf.matMul(tf.transpose(x), y));
});
