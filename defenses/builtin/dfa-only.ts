/** `dfa-only` (ablation): the DFA-trained head without binarization or random projection. Fully differentiable. */
import type { BuiltinDefense } from '../types';
import { naturalAndTrue } from '../gradient-modes';
import { opticalStages } from '../stages';

const dfaOnly: BuiltinDefense = {
  name: 'dfa-only',
  describe: 'ablation: DFA-trained head without binarization or random projection',
  order: 2,
  head: (c) => opticalStages(c, { sign: false, opu: false }),
  stochastic: () => false,
  gradientModes: naturalAndTrue,
};
export default dfaOnly;
