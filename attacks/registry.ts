/**
 * The global attack registry: the built-in attacks by name (each file's AttackDefinition), the black-box presets,
 * and the plugins (`./my-attack.js`), which the plugin loader registers here at run time. Each entry carries its
 * parameter schema (for `opulab list --params` and the README table) and derives the facts of the attack a set
 * of recorded parameters describes (for results written before runs recorded their facts).
 */
import type { Attack, AttackFacts } from '../src/types';
import { UserError } from '../src/util/errors';
import { nearestName } from '../src/util/nearest';
import type { AttackDefinition } from './definition';
import type { AttackFactory, ParamTable, RawParams } from './params';
import { WHITEBOX_DEFINITIONS } from './whitebox';
import { BLACKBOX_DEFINITIONS, BLACKBOX_PRESETS, createBlackboxAttack, presetParams } from './blackbox';
import { TRANSFER_DEFINITIONS } from './transfer';
import { NOISE } from './noise';

export type { AttackFactory } from './params';

interface Entry {
  factory: AttackFactory;
  description: string;
  origin: string;
  /** The declared parameters (absent for a plugin that declares none). */
  params?: ParamTable;
  /** The facts of the attack that `recorded` parameters describe (absent when the attack declares none). */
  facts?: (recorded: RawParams) => AttackFacts;
}

/** The built-in attacks, in the order `opulab list` and the README show them. */
export const BUILTIN_ATTACKS: readonly AttackDefinition[] = [...WHITEBOX_DEFINITIONS, ...BLACKBOX_DEFINITIONS, ...TRANSFER_DEFINITIONS, NOISE];

const registry = new Map<string, Entry>();
const builtin = new Map<string, AttackDefinition>();
for (const d of BUILTIN_ATTACKS) builtin.set(d.name, d);
for (const d of WHITEBOX_DEFINITIONS) registry.set(d.name, { factory: d.create, description: d.description, origin: 'built-in', params: d.params, facts: d.facts });
for (const d of BLACKBOX_DEFINITIONS) registry.set(d.name, { factory: d.create, description: d.description, origin: 'built-in', params: d.params, facts: d.facts });
for (const [name, preset] of Object.entries(BLACKBOX_PRESETS)) {
  const base = builtin.get(preset.attack)!;
  registry.set(name, {
    factory: (params = {}) => createBlackboxAttack(name, params),
    description: `preset: ${preset.attack} with ${JSON.stringify(preset.params)}`,
    origin: 'built-in preset',
    params: base.params,
    facts: (recorded) => base.facts(presetParams(preset, recorded)),
  });
}
for (const d of TRANSFER_DEFINITIONS) registry.set(d.name, { factory: d.create, description: d.description, origin: 'built-in', params: d.params, facts: d.facts });
registry.set(NOISE.name, { factory: NOISE.create, description: NOISE.description, origin: 'built-in', params: NOISE.params, facts: NOISE.facts });

export interface RegisteredAttackInfo {
  params?: ParamTable;
  facts?: (recorded: RawParams) => AttackFacts;
}

export function registerAttack(name: string, factory: AttackFactory, description: string, origin: string, info: RegisteredAttackInfo = {}): void {
  registry.set(name, { factory, description, origin, ...info });
}

export function attackNames(): string[] {
  return [...registry.keys()];
}

export function describeAttacks(): { name: string; description: string; origin: string; params?: ParamTable }[] {
  return [...registry.entries()].map(([name, e]) => ({ name, description: e.description, origin: e.origin, params: e.params }));
}

export function createAttack(name: string, params: RawParams = {}): Attack {
  const e = registry.get(name);
  if (!e) {
    const near = nearestName(name, attackNames());
    throw new UserError(`unknown attack '${name}'${near ? ` (did you mean '${near}'?)` : ''}: expected one of ${attackNames().join(', ')} or a plugin file path`);
  }
  return e.factory(params);
}

/**
 * The facts of the attack registered under exactly `name`, configured with `params` (as given or as recorded in
 * a results file; unknown keys ignored); undefined for a name the registry does not hold or an attack that
 * declares none.
 */
export function attackFactsByName(name: string, params: RawParams = {}): AttackFacts | undefined {
  return registry.get(name)?.facts?.(params);
}

/**
 * The norm an attack runs in when the user names none: the one a built-in preset fixes (square-l2-autoattack,
 * hsja-l2: l2), else L-inf. The CLI's `--norm` and a spec attack's `norm` override it.
 */
export function defaultNorm(name: string): 'linf' | 'l2' {
  const preset = Object.prototype.hasOwnProperty.call(BLACKBOX_PRESETS, name) ? BLACKBOX_PRESETS[name] : undefined;
  const norm = preset?.params.norm;
  return norm === 'l2' ? 'l2' : 'linf';
}
