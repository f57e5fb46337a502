/** `dfa-projection` (ablation): DFA + fixed random projection (OPU intensity), no binarization. */
import type { BuiltinDefense } from '../types';
import { BPDA_ESTIMATED, BPDA_NONE, BPDA_RANDOM, BPDA_TRUE, naturalAndTrue } from '../gradient-modes';
import { cameraIsStochastic, opticalStages } from '../stages';

const dfaProjection: BuiltinDefense = {
  name: 'dfa-projection',
  describe: 'ablation: DFA + fixed random projection (OPU intensity), no binarization',
  order: 4,
  head: (c) => opticalStages(c, { sign: false, opu: true }),
  stochastic: (c) => cameraIsStochastic(c.camera),
  gradientModes: (c) => [...naturalAndTrue(c), BPDA_RANDOM, BPDA_TRUE, BPDA_ESTIMATED, BPDA_NONE],
};
export default dfaProjection;
