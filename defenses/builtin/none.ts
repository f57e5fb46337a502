/** `none`: the undefended baseline head. Dropout, Dense, ReLU, Dropout, Dense(512), ReLU, Dense. */
import type { BuiltinDefense } from '../types';
import { NATURAL, TRUE } from '../gradient-modes';

const none: BuiltinDefense = {
  name: 'none',
  describe: 'undefended baseline head: Dropout, Dense, ReLU, Dropout, Dense(512), ReLU, Dense',
  order: 0,
  head: (c) => [
    { op: 'dropout' },
    { op: 'dense', name: 'dense1', units: c.opuIn, relu: true, observe: 'head/dense1' },
    { op: 'feedback' },
    { op: 'dropout' },
    { op: 'dense', name: 'dense2', units: 512, relu: true, observe: 'head/dense2' },
    { op: 'feedback', perLayerOnly: true },
    { op: 'dense', name: 'dense3', units: c.numClasses, relu: false },
  ],
  stochastic: () => false,
  // Nothing is non-differentiable: a bp model's natural gradient IS exact backprop (recorded as 'true').
  gradientModes: (c) =>
    c.training === 'bp' ? [{ ...NATURAL, surrogate: 'exact backprop (nothing in the model is non-differentiable)', recordAs: 'true' }] : [NATURAL, TRUE],
};
export default none;
