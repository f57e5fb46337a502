/**
 * The global attack registry: built-in white-box and black-box attacks by name. Plugins (`./my-attack.js`) are
 * resolved by the plugin loader and registered here at run time.
 */
import type { Attack } from '../src/types';
import { UserError } from '../src/util/errors';
import { nearestName } from '../src/util/nearest';
import { WHITEBOX_ATTACKS, WHITEBOX_ATTACK_DESCRIPTIONS } from './whitebox';
import { BLACKBOX_ATTACKS, BLACKBOX_DESCRIPTIONS, BLACKBOX_PRESETS } from './blackbox';
import { TRANSFER_ATTACKS, TRANSFER_ATTACK_DESCRIPTIONS } from './transfer';
import type { RawParams } from './whitebox/params';
import { createNoiseAttack } from './noise';

export type AttackFactory = (params?: RawParams) => Attack;

interface Entry {
  factory: AttackFactory;
  description: string;
  origin: string;
}

const registry = new Map<string, Entry>();
for (const [name, factory] of Object.entries(WHITEBOX_ATTACKS)) {
  registry.set(name, { factory, description: WHITEBOX_ATTACK_DESCRIPTIONS[name as keyof typeof WHITEBOX_ATTACK_DESCRIPTIONS], origin: 'built-in' });
}
for (const [name, factory] of Object.entries(BLACKBOX_ATTACKS)) {
  registry.set(name, { factory, description: BLACKBOX_DESCRIPTIONS[name as keyof typeof BLACKBOX_DESCRIPTIONS], origin: 'built-in' });
}
for (const [name, preset] of Object.entries(BLACKBOX_PRESETS)) {
  registry.set(name, {
    factory: (params = {}) => BLACKBOX_ATTACKS[preset.attack]({ ...preset.params, ...params }),
    description: `preset: ${preset.attack} with ${JSON.stringify(preset.params)}`,
    origin: 'built-in preset',
  });
}
for (const [name, factory] of Object.entries(TRANSFER_ATTACKS)) {
  registry.set(name, { factory, description: TRANSFER_ATTACK_DESCRIPTIONS[name as keyof typeof TRANSFER_ATTACK_DESCRIPTIONS], origin: 'built-in' });
}

registry.set('noise', {
  factory: createNoiseAttack,
  description: 'random noise of the same norm and size (control for check C16); params norm',
  origin: 'built-in',
});

export function registerAttack(name: string, factory: AttackFactory, description: string, origin: string): void {
  registry.set(name, { factory, description, origin });
}

export function attackNames(): string[] {
  return [...registry.keys()];
}

export function describeAttacks(): { name: string; description: string; origin: string }[] {
  return [...registry.entries()].map(([name, e]) => ({ name, description: e.description, origin: e.origin }));
}

export function createAttack(name: string, params: RawParams = {}): Attack {
  const e = registry.get(name);
  if (!e) {
    const near = nearestName(name, attackNames());
    throw new UserError(`unknown attack '${name}'${near ? ` (did you mean '${near}'?)` : ''}: expected one of ${attackNames().join(', ')} or a plugin file path`);
  }
  return e.factory(params);
}
