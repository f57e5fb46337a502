/**
 * Example defense plugin for opulab: bit-depth reduction to `bits` bits (feature squeezing, Xu et al. 2018)
 * followed by seeded Gaussian noise of std `noiseStd` (a randomized input transform), clipped to [0, 1].
 *
 *   opulab train --defense ./examples/plugins/bit-depth-noise-defense.js --defense-param bits=3 ...
 *
 * Rounding has zero gradient almost everywhere, so under the 'natural' gradient mode an attacker sees nothing
 * (obfuscated gradients); under BPDA modes opulab uses the straight-through surrogate below (Athalye et al. 2018).
 * Because the noise is random, the model is stochastic and opulab's attacks average gradients over
 * transformations (EOT).
 *
 * Plain CommonJS so it runs from a fresh clone without compiling. Use ctx.tf (opulab's own tfjs), never
 * require tfjs yourself; use ctx.seed for every random op (the same seed gives the same noise).
 */

/** @type {import('../../src/index').DefensePlugin} */
module.exports = {
  name: 'bit-depth-noise',
  describe: 'bit-depth reduction to k bits + seeded Gaussian noise; straight-through BPDA surrogate',
  params: { bits: 4, noiseStd: 0.03 },
  stochastic: true,

  transformInput(x, ctx) {
    const { tf, params, seed } = ctx;
    const bits = params.bits;
    const noiseStd = params.noiseStd;
    if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`bits must be an integer in 1..8, got ${bits}`);
    if (typeof noiseStd !== 'number' || noiseStd < 0) throw new Error(`noiseStd must be a number >= 0, got ${noiseStd}`);
    return tf.tidy(() => {
      const levels = 2 ** bits - 1;
      const squeezed = tf.div(tf.round(tf.mul(x, levels)), levels);
      if (noiseStd === 0) return squeezed;
      const noise = tf.randomNormal(x.shape, 0, noiseStd, 'float32', seed);
      return tf.clipByValue(tf.add(squeezed, noise), 0, 1);
    });
  },

  // Straight-through estimator: treat the transform as the identity on the way back. ('identity' says the same
  // in one word; a function like this one is how you would write any other surrogate.)
  surrogate(dy, x, ctx) {
    return ctx.tf.clone(dy);
  },
};
