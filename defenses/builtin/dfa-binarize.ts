/** `dfa-binarize` (ablation): DFA + Sign binarization, no random projection. */
import type { BuiltinDefense } from '../types';
import { BPDA_NONE, naturalAndTrue } from '../gradient-modes';
import { opticalStages } from '../stages';

const dfaBinarize: BuiltinDefense = {
  name: 'dfa-binarize',
  describe: 'ablation: DFA + Sign binarization, no random projection',
  order: 3,
  head: (c) => opticalStages(c, { sign: true, opu: false }),
  stochastic: () => false,
  gradientModes: (c) => [...naturalAndTrue(c), { ...BPDA_NONE, surrogate: 'straight-through Sign (there is no OPU)' }],
};
export default dfaBinarize;
