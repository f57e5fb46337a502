/**
 * Example attack plugin for opulab: L-inf PGD with momentum on the L1-normalized gradient (MI-FGSM,
 * Dong et al. 2018, "Boosting Adversarial Attacks with Momentum"), optionally from a random start.
 *
 *   opulab attack --checkpoint CKPT --attack ./examples/plugins/momentum-pgd-attack.js --eps 8/255
 *
 * It uses only the public Classifier API: model.lossAndGradient(x, labels, lossFn) for the exposed gradient
 * (true, BPDA surrogate or EOT average: the model decides) and model.logits(x) for predictions.
 * Plain CommonJS; tensors come from runtime.tf (opulab's own tfjs).
 */

// `norm` is accepted because opulab passes the run's norm to every attack; only 'linf' is implemented.
const DEFAULTS = { norm: 'linf', steps: 10, relStepSize: 0.25, decay: 1.0, randomStart: false };

/** @type {import('../../src/index').AttackPlugin} */
module.exports = {
  name: 'momentum-pgd',
  threat: 'white-box',
  norm: 'linf',
  describe: 'L-inf PGD with momentum (MI-FGSM, Dong et al. 2018); params steps, relStepSize (x eps), decay, randomStart',

  create(params, runtime) {
    const p = { ...DEFAULTS, ...params };
    for (const key of Object.keys(params)) {
      if (!(key in DEFAULTS)) throw new Error(`unknown param '${key}': expected one of ${Object.keys(DEFAULTS).join(', ')}`);
    }
    if (p.norm !== 'linf') throw new Error(`norm must be 'linf' (momentum-pgd is an L-inf attack), got '${p.norm}'`);
    if (!Number.isInteger(p.steps) || p.steps < 1) throw new Error(`steps must be a positive integer, got ${p.steps}`);
    if (!(p.relStepSize > 0)) throw new Error(`relStepSize must be > 0, got ${p.relStepSize}`);
    if (!(p.decay >= 0)) throw new Error(`decay must be >= 0, got ${p.decay}`);
    const { tf } = runtime;

    return {
      name: 'momentum-pgd',
      threat: 'white-box',
      norm: 'linf',
      params: p,

      async run(model, x, labels, epsilons, ctx) {
        if (!model.lossAndGradient) throw new Error(`model '${model.id}' exposes no input gradient; momentum-pgd is white-box`);
        const targeted = ctx.targets !== undefined;
        const lossLabels = tf.tensor1d(targeted ? ctx.targets : labels, 'int32');
        // Per-example cross-entropy; a targeted attack descends the loss of the target (ascends its negative).
        const lossFn = (logits, y) =>
          tf.tidy(() => {
            const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(tf.cast(y, 'int32'), logits.shape[1]), tf.logSoftmax(logits)), 1));
            return targeted ? tf.neg(ce) : ce;
          });
        const outcomes = [];
        try {
          for (let e = 0; e < epsilons.length; e++) {
            const eps = epsilons[e];
            const alpha = p.relStepSize * eps;
            let adv = p.randomStart
              ? tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', ctx.seed + e)), 0, 1))
              : tf.clone(x);
            let momentum = tf.zerosLike(x);
            for (let i = 0; i < p.steps; i++) {
              const { loss, grad } = model.lossAndGradient(adv, lossLabels, lossFn);
              const [nextAdv, nextMomentum] = tf.tidy(() => {
                const l1 = tf.add(tf.mean(tf.abs(grad), [1, 2, 3], true), 1e-12);
                const m = tf.add(tf.mul(momentum, p.decay), tf.div(grad, l1));
                const stepped = tf.add(adv, tf.mul(tf.sign(m), alpha));
                const projected = tf.add(x, tf.clipByValue(tf.sub(stepped, x), -eps, eps));
                return [tf.clipByValue(projected, 0, 1), m];
              });
              tf.dispose([loss, grad, adv, momentum]);
              adv = nextAdv;
              momentum = nextMomentum;
            }
            momentum.dispose();
            const pred = tf.tidy(() => tf.argMax(model.logits(adv), 1));
            const predicted = Array.from(await pred.data());
            pred.dispose();
            const goal = targeted ? ctx.targets : labels;
            const success = predicted.map((c, i) => (targeted ? c === goal[i] : c !== goal[i]));
            outcomes.push({ eps, adversarial: adv, success, adversarialPrediction: predicted });
            if (ctx.onProgress) ctx.onProgress((e + 1) / epsilons.length);
          }
        } catch (err) {
          for (const o of outcomes) o.adversarial.dispose();
          throw err;
        } finally {
          lossLabels.dispose();
        }
        return outcomes;
      },
    };
  },
};
