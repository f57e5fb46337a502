/**
 * The global attack registry: built-in white-box and black-box attacks by name. Plugins (`./my-attack.js`) are
 * resolved by the plugin loader and registered here at run time.
 */
import type { Attack } from '../src/types';
import { UserError } from '../src/util/errors';
import { WHITEBOX_ATTACKS, WHITEBOX_ATTACK_DESCRIPTIONS } from './whitebox';
import { BLACKBOX_ATTACKS, BLACKBOX_ATTACK_DESCRIPTIONS } from './blackbox';
import type { RawParams } from './whitebox/params';

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
  registry.set(name, { factory, description: BLACKBOX_ATTACK_DESCRIPTIONS[name as keyof typeof BLACKBOX_ATTACK_DESCRIPTIONS], origin: 'built-in' });
}

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
  if (!e) throw new UserError(`unknown attack '${name}': expected one of ${attackNames().join(', ')} or a plugin file path`);
  return e.factory(params);
}
