/**
 * Black-box attacks: name -> (params) => Attack, each defined in its own file (parameters, facts, factory), and
 * named presets for the reference protocol (docs/method.md §5).
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
import type { AttackDefinition } from '../definition';
import type { AttackFactory, RawParams } from '../params';
import { BanditsAttack, BANDITS, BANDITS_REFERENCE } from './bandits';
import { HopSkipJumpAttack, HSJA } from './hsja';
import { NesAttack, NES } from './nes';
import { ParsimoniousAttack, PARSIMONIOUS, PARSIMONIOUS_DEFAULTS } from './parsimonious';
import { SquareAttack, SQUARE } from './square';

export type BlackboxAttackName = 'nes' | 'bandits' | 'parsimonious' | 'square' | 'hsja';

export const BLACKBOX_DEFINITIONS: readonly AttackDefinition[] = [NES, BANDITS, PARSIMONIOUS, SQUARE, HSJA];

export const BLACKBOX_ATTACKS: Readonly<Record<BlackboxAttackName, AttackFactory>> = {
  nes: NES.create,
  bandits: BANDITS.create,
  parsimonious: PARSIMONIOUS.create,
  square: SQUARE.create,
  hsja: HSJA.create,
};

export interface BlackboxPreset {
  attack: BlackboxAttackName;
  params: RawParams;
}

/** Reference-protocol presets (docs/method.md §5; eps 8/256 L-inf is the caller's eps). */
export const BLACKBOX_PRESETS: Readonly<Record<string, BlackboxPreset>> = {
  'bandits-reference': { attack: 'bandits', params: { ...BANDITS_REFERENCE } },
  'nes-reference': { attack: 'nes', params: { samples: 50, sigma: 0.01, stepSize: 0.01, maxQueries: 10000 } },
  'parsimonious-reference': { attack: 'parsimonious', params: { ...PARSIMONIOUS_DEFAULTS } },
  'square-autoattack': { attack: 'square', params: { norm: 'linf', maxQueries: 5000, pInit: 0.8 } },
  'square-l2-autoattack': { attack: 'square', params: { norm: 'l2', maxQueries: 5000, pInit: 0.8 } },
  'hsja-l2': { attack: 'hsja', params: { norm: 'l2', maxQueries: 5000 } },
  'hsja-linf': { attack: 'hsja', params: { norm: 'linf', maxQueries: 5000 } },
};

/** A preset's parameters with the user's on top (the one place presets are expanded). */
export function presetParams(preset: BlackboxPreset, params: RawParams): RawParams {
  return { ...preset.params, ...params };
}

export function isBlackboxAttack(name: string): name is BlackboxAttackName {
  return Object.prototype.hasOwnProperty.call(BLACKBOX_ATTACKS, name);
}

/** Build a black-box attack by name (or preset name; explicit params override the preset's). */
export function createBlackboxAttack(name: string, params: RawParams = {}): Attack {
  if (isBlackboxAttack(name)) return BLACKBOX_ATTACKS[name](params);
  const preset = BLACKBOX_PRESETS[name];
  if (preset) return BLACKBOX_ATTACKS[preset.attack](presetParams(preset, params));
  const known = [...Object.keys(BLACKBOX_ATTACKS), ...Object.keys(BLACKBOX_PRESETS)];
  throw new UserError(`unknown black-box attack '${name}': expected one of ${known.join(', ')}`);
}

export { BanditsAttack, HopSkipJumpAttack, NesAttack, ParsimoniousAttack, SquareAttack };
export { queryStats, successCurve } from './curves';
export { runQueryAttack } from './engine';
