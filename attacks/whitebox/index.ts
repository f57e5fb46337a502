/**
 * The white-box attack factories: name -> (params) => Attack. Params are validated (UserError naming the
 * bad key or value); the lead's global registry is built from this map.
 */
import type { Attack } from '../../src/types';
import { Apgd, parseApgdParams } from './apgd';
import { Fgsm, parseFgsmParams } from './fgsm';
import { Pgd, parsePgdParams } from './pgd';
import type { RawParams } from './params';

export type WhiteboxAttackName = 'fgsm' | 'pgd' | 'apgd-ce' | 'apgd-dlr';
export type AttackFactory = (params?: RawParams) => Attack;

export const WHITEBOX_ATTACKS: Readonly<Record<WhiteboxAttackName, AttackFactory>> = {
  fgsm: (params = {}) => new Fgsm(parseFgsmParams(params)),
  pgd: (params = {}) => new Pgd(parsePgdParams(params)),
  'apgd-ce': (params = {}) => new Apgd(parseApgdParams(params, 'apgd-ce', 'ce'), 'apgd-ce'),
  'apgd-dlr': (params = {}) => new Apgd(parseApgdParams(params, 'apgd-dlr', 'dlr'), 'apgd-dlr'),
};

export const WHITEBOX_ATTACK_NAMES = Object.keys(WHITEBOX_ATTACKS) as WhiteboxAttackName[];

/** One-line descriptions for `opulab list`. */
export const WHITEBOX_ATTACK_DESCRIPTIONS: Readonly<Record<WhiteboxAttackName, string>> = {
  fgsm: 'FGSM / fast gradient method, one step (Goodfellow et al. 2015); params norm, loss',
  pgd: 'PGD with optional random start and restarts (Madry et al. 2018); params norm, steps, stepSize|relStepSize, randomStart, restarts, loss',
  'apgd-ce': 'APGD with cross-entropy (Croce & Hein 2020); params norm, steps, restarts, rho, momentum, randomStart',
  'apgd-dlr': 'APGD with the DLR loss (Croce & Hein 2020); params norm, steps, restarts, rho, momentum, randomStart',
};

export { Apgd, Fgsm, Pgd };
export type { ApgdParams } from './apgd';
export type { FgsmParams } from './fgsm';
export type { PgdParams } from './pgd';
