/**
 * Transfer attacks: craft adversarial sets on a source model with any white-box Attack (or the
 * transfer-strengthening MI-FGSM / DI-FGSM below), save / load them, and evaluate them on target models.
 */
import type { Attack } from '../../src/types';
import { UserError } from '../../src/util/errors';
import type { AttackDefinition } from '../definition';
import type { AttackFactory, RawParams } from '../params';
import { DiFgsm, DI_FGSM, MiFgsm, MI_FGSM } from './momentum-fgsm';

export type TransferAttackName = 'mi-fgsm' | 'di-fgsm';

export const TRANSFER_DEFINITIONS: readonly AttackDefinition[] = [MI_FGSM, DI_FGSM];

export const TRANSFER_ATTACKS: Readonly<Record<TransferAttackName, AttackFactory>> = {
  'mi-fgsm': MI_FGSM.create,
  'di-fgsm': DI_FGSM.create,
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
