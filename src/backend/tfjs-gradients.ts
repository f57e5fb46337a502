/**
 * tfjs-core's CommonJS build (what Node loads) does not register gradient functions; they ship only in its
 * ES-module tree. The `@tensorflow/tfjs` umbrella's CommonJS bundle carries them and registers them in tfjs's
 * global registries (shared with tfjs-core), so loading it once makes tf.grad / tf.variableGrads work on every
 * backend. Imported for its side effect by src/backend/index.ts.
 */
import * as tf from '@tensorflow/tfjs-core';

// eslint-disable-next-line @typescript-eslint/no-var-requires
require('@tensorflow/tfjs');

if (!tf.getGradient('Conv2D') || !tf.getGradient('RealDiv')) {
  throw new Error('tfjs gradients are not registered: is @tensorflow/tfjs installed at the same version as @tensorflow/tfjs-core?');
}
