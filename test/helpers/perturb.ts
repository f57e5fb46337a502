import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../../src/models/network';
import { makeRng } from '../../src/util/rng';

/**
 * Give BatchNorm statistics, gammas, biases and the Sign center non-trivial values (a seeded "trained-like"
 * model); `label` names the random stream (tests keep their own).
 */
export function perturb(net: Network, seed: number, label = 'perturb'): void {
  const rng = makeRng(seed, label);
  for (const p of net.store.list()) {
    const n = p.variable.size;
    let v: Float32Array | null = null;
    if (p.name.endsWith('running_var') || p.name.endsWith('gamma')) v = Float32Array.from({ length: n }, () => rng.range(0.5, 1.5));
    else if (p.name.endsWith('running_mean') || p.name.endsWith('beta') || p.name.endsWith('/bias')) v = Float32Array.from({ length: n }, () => rng.range(-0.2, 0.2));
    else if (p.name.endsWith('running_center')) v = Float32Array.from({ length: n }, () => 0.3);
    if (v) p.variable.assign(tf.tensor(v, p.variable.shape));
  }
}
