/**
 * `optical`: the defended head. Dropout, Dense, ReLU, [DFA feedback point], Sign(x - center), OPU (fixed random
 * projection + camera), ReLU, Dense. Non-differentiable Sign and OPU: every BPDA surrogate applies.
 */
import type { BuiltinDefense } from '../types';
import { BPDA_ESTIMATED, BPDA_NONE, BPDA_RANDOM, BPDA_TRUE, naturalAndTrue } from '../gradient-modes';
import { cameraIsStochastic, opticalStages } from '../stages';

const optical: BuiltinDefense = {
  name: 'optical',
  describe: 'optical head: Dense, ReLU, [DFA feedback], Sign(x - mean), OPU |xR|^2, ReLU, Dense',
  order: 1,
  head: (c) => opticalStages(c, { sign: true, opu: true }),
  stochastic: (c) => cameraIsStochastic(c.camera),
  gradientModes: (c) => [...naturalAndTrue(c), BPDA_RANDOM, BPDA_TRUE, BPDA_ESTIMATED, BPDA_NONE],
};
export default optical;
