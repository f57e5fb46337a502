/**
 * Eps-ball geometry for pixel-space NHWC batches: per-example norms, L2 normalisation, projection onto the
 * eps-ball around x0 intersected with the pixel box [0,1], and seeded random starting points.
 *
 * L-inf: the ball is a box, so ball ∩ [0,1] is a box and coordinate-wise clipping is the exact projection.
 * L2: the projection onto the ball alone is exact (scale delta by min(1, eps/||delta||)). The result is then
 * clipped to [0,1] — the usual practice (torchattacks, AutoAttack, Foolbox). Because x0 lies in [0,1],
 * clipping only shrinks |delta_i|, so the clipped point stays inside the ball: the result is always
 * feasible, though not always the Euclidean-nearest point of ball ∩ box.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Norm } from '../src/types';
import { makeRng, fillNormal, fillUniform } from '../src/util/rng';

/** Guards divisions by a zero norm (AutoAttack uses the same 1e-12). */
export const NORM_FLOOR = 1e-12;

/** Reshape a per-example [batch] tensor so it broadcasts over NHWC. */
export function perExample(v: tf.Tensor1D): tf.Tensor4D {
  return tf.reshape(v, [v.shape[0], 1, 1, 1]);
}

/** Per-example L-inf or L2 norm of an NHWC batch: [batch]. */
export function perExampleNorm(t: tf.Tensor4D, norm: Norm): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(t, [t.shape[0], -1]);
    return (norm === 'linf' ? tf.max(tf.abs(flat), 1) : tf.sqrt(tf.sum(tf.square(flat), 1))) as tf.Tensor1D;
  });
}

/** t / ||t||_2 per example (zero stays zero). */
export function normalizeL2(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(t, perExample(tf.add(perExampleNorm(t, 'l2'), NORM_FLOOR))) as tf.Tensor4D);
}

/**
 * The steepest-ascent direction of unit norm for a gradient: sign(g) for L-inf, g/||g||_2 for L2. NaN
 * entries (a broken exposed gradient, reported separately as C11) count as zero so iterates stay finite.
 */
export function steepestDirection(grad: tf.Tensor4D, norm: Norm): tf.Tensor4D {
  return tf.tidy(() => {
    const g = tf.where(tf.isNaN(grad), tf.zerosLike(grad), grad) as tf.Tensor4D;
    return norm === 'linf' ? tf.sign(g) : normalizeL2(g);
  });
}

export function clipToPixelRange(x: tf.Tensor4D): tf.Tensor4D {
  return tf.clipByValue(x, 0, 1);
}

/** Project onto {x : ||x - x0||_inf <= eps} ∩ [0,1]^d (exact). */
export function projectLinf(x: tf.Tensor4D, x0: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => clipToPixelRange(tf.minimum(tf.maximum(x, tf.sub(x0, eps)), tf.add(x0, eps))));
}

/** Project onto the L2 ball of radius eps around x0 (exact), then clip to [0,1] (see the module note). */
export function projectL2(x: tf.Tensor4D, x0: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = tf.sub(x, x0) as tf.Tensor4D;
    const n = perExampleNorm(delta, 'l2');
    const factor = tf.minimum(1, tf.div(eps, tf.add(n, NORM_FLOOR)));
    return clipToPixelRange(tf.add(x0, tf.mul(delta, perExample(factor as tf.Tensor1D))));
  });
}

export function project(norm: Norm, x: tf.Tensor4D, x0: tf.Tensor4D, eps: number): tf.Tensor4D {
  return norm === 'linf' ? projectLinf(x, x0, eps) : projectL2(x, x0, eps);
}

/**
 * A seeded random point of the eps-ball around x0, clipped to [0,1]: uniform in the box for L-inf
 * (Madry et al. 2018), uniform in the ball for L2 (Gaussian direction, radius eps * u^(1/d)).
 * Drawn JS-side from makeRng(seed, ...) so every backend sees the same numbers.
 */
export function randomStart(norm: Norm, x0: tf.Tensor4D, eps: number, seed: number): tf.Tensor4D {
  const rng = makeRng(seed, 'random-start', norm);
  const [b, h, w, c] = x0.shape;
  const d = h * w * c;
  const noise = new Float32Array(b * d);
  if (norm === 'linf') {
    fillUniform(rng, noise, -eps, eps);
  } else {
    fillNormal(rng, noise);
    for (let i = 0; i < b; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += noise[i * d + j] ** 2;
      const radius = eps * Math.pow(rng.uniform(), 1 / d);
      const scale = radius / Math.max(Math.sqrt(s), NORM_FLOOR);
      for (let j = 0; j < d; j++) noise[i * d + j] *= scale;
    }
  }
  return tf.tidy(() => clipToPixelRange(tf.add(x0, tf.tensor4d(noise, [b, h, w, c]))));
}
