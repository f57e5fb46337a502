/**
 * The white-box attacks: FGSM, PGD, APGD-CE and APGD-DLR, each defined in its own file (parameters, facts,
 * factory); the global registry (attacks/registry.ts) is built from `WHITEBOX_DEFINITIONS`.
 */
import type { AttackFactory } from '../params';
import type { AttackDefinition } from '../definition';
import { Apgd, APGD_CE, APGD_DLR } from './apgd';
import { Fgsm, FGSM } from './fgsm';
import { Pgd, PGD } from './pgd';

export type WhiteboxAttackName = 'fgsm' | 'pgd' | 'apgd-ce' | 'apgd-dlr';

export const WHITEBOX_DEFINITIONS: readonly AttackDefinition[] = [FGSM, PGD, APGD_CE, APGD_DLR];

export const WHITEBOX_ATTACKS: Readonly<Record<WhiteboxAttackName, AttackFactory>> = {
  fgsm: FGSM.create,
  pgd: PGD.create,
  'apgd-ce': APGD_CE.create,
  'apgd-dlr': APGD_DLR.create,
};

export { Apgd, Fgsm, Pgd };
export type { ApgdParams } from './apgd';
export type { FgsmParams } from './fgsm';
export type { PgdParams } from './pgd';
