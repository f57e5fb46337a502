/**
 * Example defense plugin: random resizing and padding (Xie, Wang, Zhang, Ren & Yuille 2018). Each forward pass
 * shrinks the image to a random size s x s (s in [minSize, 32]) and pads it back to 32 x 32 at a random offset,
 * so two passes on the same image differ.
 *
 *   opulab train --defense ./examples/plugins/random-resize-pad-defense.js --defense-param minSize=24 ...
 *
 * The transform is differentiable (bilinear resize + padding: surrogate 'autodiff'), so there is no BPDA mode;
 * what makes it look robust is the randomness. It is flagged stochastic: attacks average their gradient over
 * transformations (EOT, Athalye, Engstrom, Ilyas & Kwok 2018), predictions are majority votes over several
 * passes, and check C9 fails a white-box run that used no EOT. Against it PGD with EOT is stronger than PGD
 * without.
 *
 * All randomness comes from ctx.seed (one size and offset per call), so the same seed gives the same draws.
 */

/** @type {import('../../src/index').DefensePlugin} */
module.exports = {
  name: 'random-resize-pad',
  describe: 'random resize to s x s (s in [minSize, 32]) + random zero padding back to 32 x 32 (Xie et al. 2018)',
  params: { minSize: 24 },
  stochastic: true,

  transformInput(x, ctx) {
    const { tf, params, seed, makeRng } = ctx;
    const [, h, w] = x.shape;
    const minSize = params.minSize;
    if (!Number.isInteger(minSize) || minSize < 1 || minSize > 32) throw new Error(`minSize must be an integer in 1..32, got ${minSize}`);
    // sizes are relative to a 32 x 32 image, so the same plugin also runs on other input sizes
    const rng = makeRng(seed, 'resize-pad');
    const lo = Math.max(1, Math.round((minSize / 32) * h));
    const sh = lo + rng.int(h - lo + 1);
    const sw = Math.max(1, Math.round((sh / h) * w));
    const top = rng.int(h - sh + 1);
    const left = rng.int(w - sw + 1);
    return tf.tidy(() => {
      const small = tf.image.resizeBilinear(x, [sh, sw], true);
      return tf.pad(small, [[0, 0], [top, h - sh - top], [left, w - sw - left], [0, 0]]);
    });
  },

  // The transform is differentiable: attackers get its true gradient (for one random draw per pass).
  surrogate: 'autodiff',
};
