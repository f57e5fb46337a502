/**
 * Example defense plugin: bit-depth reduction (feature squeezing, Xu, Evans & Qi 2018). Every pixel is rounded
 * to one of 2^bits levels before the model sees it.
 *
 *   opulab train --defense ./examples/plugins/bit-depth-defense.js --defense-param bits=5 ...
 *
 * Rounding has a zero gradient almost everywhere, so under the `natural` gradient mode a white-box attacker gets
 * nothing and the model looks robust (obfuscated gradients). Under `bpda-none` opulab uses the straight-through
 * surrogate below (BPDA, Athalye, Carlini & Wagner 2018): the attacker differentiates as if the rounding were
 * the identity, and the defense falls.
 *
 * Deterministic (stochastic: false): no EOT needed. Plain CommonJS, uses ctx.tf (opulab's own tfjs).
 */

/** @type {import('../../src/index').DefensePlugin} */
module.exports = {
  name: 'bit-depth',
  describe: 'bit-depth reduction to k bits (feature squeezing); straight-through BPDA surrogate',
  params: { bits: 5 },
  stochastic: false,

  transformInput(x, ctx) {
    const { tf, params } = ctx;
    const bits = params.bits;
    if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`bits must be an integer in 1..8, got ${bits}`);
    const levels = 2 ** bits - 1;
    return tf.tidy(() => tf.div(tf.round(tf.mul(x, levels)), levels));
  },

  // BPDA: the identity on the way back (straight-through estimator).
  surrogate: 'identity',
};
