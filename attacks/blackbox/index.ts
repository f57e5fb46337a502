/**
 * Black-box attack registry: name -> (params) => Attack, with parameter validation (UserError on a bad or
 * unknown parameter) and named presets for the reference protocol (docs/method.md §5).
 *
 *   nes           NES, L-inf, score-based (Ilyas et al. 2018)
 *   bandits       Bandits-TD, L-inf, score-based (Ilyas et al. 2019)
 *   parsimonious  Parsimonious, L-inf, score-based (Moon et al. 2019)
 *   square        Square Attack, params.norm linf | l2, score-based (Andriushchenko et al. 2020)
 *   hsja          HopSkipJump, params.norm l2 | linf, decision-based (Chen et al. 2020)
 *
 * A list of epsilons is attacked independently per eps (each eps gets the full query budget).
 */
import type { Attack } from '../../src/types';
import { UserError } from '../../src/util/errors';
import { BanditsAttack, BANDITS_REFERENCE } from './bandits';
import { HopSkipJumpAttack } from './hsja';
import { NesAttack } from './nes';
import { ParsimoniousAttack, PARSIMONIOUS_DEFAULTS } from './parsimonious';
import { SquareAttack } from './square';
import type { RawParams } from './params';

export type BlackboxAttackName = 'nes' | 'bandits' | 'parsimonious' | 'square' | 'hsja';
export type BlackboxFactory = (params?: RawParams) => Attack;

export const BLACKBOX_ATTACKS: Readonly<Record<BlackboxAttackName, BlackboxFactory>> = {
  nes: (p = {}) => new NesAttack(p),
  bandits: (p = {}) => new BanditsAttack(p),
  parsimonious: (p = {}) => new ParsimoniousAttack(p),
  square: (p = {}) => new SquareAttack(p),
  hsja: (p = {}) => new HopSkipJumpAttack(p),
};

export const BLACKBOX_DESCRIPTIONS: Readonly<Record<BlackboxAttackName, string>> = {
  nes: 'NES gradient estimation + signed steps, L-inf, score-based (Ilyas et al. 2018)',
  bandits: 'Bandits-TD with time and data priors, L-inf, score-based (Ilyas et al. 2019)',
  parsimonious: 'Parsimonious lazy-greedy block sign search, L-inf, score-based (Moon et al. 2019)',
  square: 'Square Attack random search, L-inf or L2, score-based (Andriushchenko et al. 2020)',
  hsja: 'HopSkipJump boundary attack, L2 or L-inf, decision-based (Chen et al. 2020)',
};

/** Reference-protocol presets (docs/method.md §5; eps 8/256 L-inf is the caller's eps). */
export const BLACKBOX_PRESETS: Readonly<Record<string, { attack: BlackboxAttackName; params: RawParams }>> = {
  'bandits-reference': { attack: 'bandits', params: { ...BANDITS_REFERENCE } },
  'nes-reference': { attack: 'nes', params: { samples: 50, sigma: 0.01, stepSize: 0.01, maxQueries: 10000 } },
  'parsimonious-reference': { attack: 'parsimonious', params: { ...PARSIMONIOUS_DEFAULTS } },
  'square-autoattack': { attack: 'square', params: { norm: 'linf', maxQueries: 5000, pInit: 0.8 } },
  'square-l2-autoattack': { attack: 'square', params: { norm: 'l2', maxQueries: 5000, pInit: 0.8 } },
  'hsja-l2': { attack: 'hsja', params: { norm: 'l2', maxQueries: 5000 } },
  'hsja-linf': { attack: 'hsja', params: { norm: 'linf', maxQueries: 5000 } },
};

export function isBlackboxAttack(name: string): name is BlackboxAttackName {
  return Object.prototype.hasOwnProperty.call(BLACKBOX_ATTACKS, name);
}

/** Build a black-box attack by name (or preset name; explicit params override the preset's). */
export function createBlackboxAttack(name: string, params: RawParams = {}): Attack {
  if (isBlackboxAttack(name)) return BLACKBOX_ATTACKS[name](params);
  const preset = BLACKBOX_PRESETS[name];
  if (preset) return BLACKBOX_ATTACKS[preset.attack]({ ...preset.params, ...params });
  const known = [...Object.keys(BLACKBOX_ATTACKS), ...Object.keys(BLACKBOX_PRESETS)];
  throw new UserError(`unknown black-box attack '${name}': expected one of ${known.join(', ')}`);
}

export { BanditsAttack, HopSkipJumpAttack, NesAttack, ParsimoniousAttack, SquareAttack };
export { queryStats, successCurve } from './curves';
export { runQueryAttack } from './engine';
