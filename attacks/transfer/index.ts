/**
 * Transfer attacks: craft adversarial sets on a source model with any white-box Attack (or the
 * transfer-strengthening MI-FGSM / DI-FGSM below), save / load them, and evaluate them on target models.
 */
import type { Attack } from '../../src/types';
import { UserError } from '../../src/util/errors';
import type { RawParams } from '../blackbox/params';
import { DiFgsm, MiFgsm } from './momentum-fgsm';

export type TransferAttackName = 'mi-fgsm' | 'di-fgsm';

export const TRANSFER_ATTACKS: Readonly<Record<TransferAttackName, (params?: RawParams) => Attack>> = {
  'mi-fgsm': (p = {}) => new MiFgsm(p),
  'di-fgsm': (p = {}) => new DiFgsm(p),
};

export const TRANSFER_ATTACK_DESCRIPTIONS: Readonly<Record<TransferAttackName, string>> = {
  'mi-fgsm': 'momentum iterative FGSM, L-inf (Dong et al. 2018); params steps, decay, relStepSize',
  'di-fgsm': 'input-diversity iterative FGSM, L-inf (Xie et al. 2019); params steps, probability, resizeRate, decay, relStepSize',
};

export function createTransferAttack(name: string, params: RawParams = {}): Attack {
  if (!Object.prototype.hasOwnProperty.call(TRANSFER_ATTACKS, name)) {
    throw new UserError(`unknown transfer attack '${name}': expected one of ${Object.keys(TRANSFER_ATTACKS).join(', ')}`);
  }
  return TRANSFER_ATTACKS[name as TransferAttackName](params);
}

export { DiFgsm, MiFgsm };
export { craftTransferSet, loadTransferSet, saveTransferSet, TRANSFER_SET_FORMAT } from './transfer-set';
export type { CraftOptions, TransferSet, TransferSetManifest } from './transfer-set';
export { commonCorrectMask, evaluateTransfer, predictFlat } from './evaluate';
export type { TransferEvaluation } from './evaluate';
