/**
 * Attack plugins: load and validate a plugin file, register it in the global attack registry
 * (attacks/registry.ts, origin = the file path) and wrap its attacks so a misbehaving plugin fails with ONE
 * UserError naming the file (bad outcome shapes, a throwing factory or run) instead of corrupting results.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attack, AttackContext, AttackOutcome, Classifier, Norm, ThreatModel } from '../types';
import { UserError } from '../util/errors';
import { createAttack, describeAttacks, registerAttack } from '../../attacks/registry';
import { ParamSchema, type AttackFactory, type ParamSpec, type ParamSpecs, type RawParams } from '../../attacks/params';
import type { AttackPlugin } from './types';
import { Problems, firstLine, isPluginPath, readPluginFile, unknownMembers } from './file';
import { PLUGIN_RUNTIME } from './defense';
import { rememberPlugin } from './list';

const THREATS: readonly ThreatModel[] = ['white-box', 'black-box-score', 'decision', 'transfer'];
const NORMS: readonly Norm[] = ['linf', 'l2'];
const ATTACK_MEMBERS = ['name', 'threat', 'norm', 'describe', 'params', 'create'] as const;
const PARAM_TYPES: readonly ParamSpec['type'][] = ['number', 'integer', 'boolean', 'enum', 'string'];

/** A plugin's declared parameters must be specs of the attack parameter schema (attacks/params.ts). */
function checkParamSpecs(params: unknown, problems: Problems): void {
  if (params === undefined) return;
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    problems.add('params must be an object of parameter specs { name: { type, default, description, ... } }');
    return;
  }
  for (const [k, spec] of Object.entries(params as Record<string, unknown>)) {
    const s = spec as Partial<ParamSpec> | null;
    if (!s || typeof s !== 'object' || !PARAM_TYPES.includes(s.type as ParamSpec['type'])) problems.add(`params.${k}.type must be one of ${PARAM_TYPES.join(', ')}`);
    else if (typeof s.description !== 'string') problems.add(`params.${k}.description must be a string`);
    else if (s.type === 'integer' && typeof s.min !== 'number') problems.add(`params.${k}.min must be a number (integer parameters have a lower bound)`);
    else if (s.type === 'enum' && !(Array.isArray(s.options) && s.options.every((o) => typeof o === 'string'))) problems.add(`params.${k}.options must be an array of strings`);
  }
}
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface LoadedAttackPlugin {
  /** The registry name (use with createAttack). */
  readonly name: string;
  readonly path: string;
  readonly sha256: string;
  readonly threat: ThreatModel;
  readonly norm: Norm;
  readonly description: string;
}

function describeError(e: unknown): string {
  const where = e instanceof Error ? /\n\s+at .*?\(?([^()\s]+:\d+:\d+)\)?/.exec(e.stack ?? '')?.[1] : undefined;
  return where ? `${firstLine(e)} (at ${where})` : firstLine(e);
}

/** The created attack must look like an Attack. */
function checkAttack(a: unknown, where: string): Attack {
  const problems = new Problems();
  if (!a || typeof a !== 'object') {
    throw new UserError(`${where}: create() returned ${a === null ? 'null' : typeof a}, expected an attack object { name, threat, norm, params, run }`);
  }
  const o = a as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') problems.add('the attack needs a string name');
  if (!THREATS.includes(o.threat as ThreatModel)) problems.add(`the attack's threat must be one of ${THREATS.join(', ')} (got ${JSON.stringify(o.threat)})`);
  if (!NORMS.includes(o.norm as Norm)) problems.add(`the attack's norm must be linf or l2 (got ${JSON.stringify(o.norm)})`);
  if (!o.params || typeof o.params !== 'object') problems.add('the attack needs a params object (recorded in results)');
  if (typeof o.run !== 'function') problems.add('the attack needs a run(model, x, labels, epsilons, ctx) method');
  problems.throwIfAny(`${where}: create()`);
  return a as Attack;
}

function checkOutcomes(out: unknown, x: tf.Tensor4D, epsilons: number[], where: string): AttackOutcome[] {
  const n = x.shape[0];
  if (!Array.isArray(out) || out.length !== epsilons.length) {
    throw new UserError(`${where}: run() must resolve to one outcome per eps (${epsilons.length}), got ${Array.isArray(out) ? out.length : typeof out}`);
  }
  out.forEach((o: Partial<AttackOutcome>, i) => {
    if (!(o?.adversarial instanceof tf.Tensor) || o.adversarial.shape.join('x') !== x.shape.join('x')) {
      throw new UserError(`${where}: outcome ${i} needs 'adversarial', a tensor of shape [${x.shape}] (got ${o?.adversarial instanceof tf.Tensor ? `[${o.adversarial.shape}]` : typeof o?.adversarial})`);
    }
    if (!Array.isArray(o.success) || o.success.length !== n || o.success.some((s) => typeof s !== 'boolean')) {
      throw new UserError(`${where}: outcome ${i} needs 'success', ${n} booleans (one per example)`);
    }
    if (typeof o.eps !== 'number') throw new UserError(`${where}: outcome ${i} needs 'eps' (a number, pixel units)`);
  });
  return out as AttackOutcome[];
}

/** Delegating wrapper: same name/threat/norm/params; run() errors and malformed outcomes become UserErrors. */
function guardAttack(inner: Attack, where: string): Attack {
  return {
    get name() {
      return inner.name;
    },
    threat: inner.threat,
    norm: inner.norm,
    params: inner.params,
    facts: inner.facts,
    async run(model: Classifier, x: tf.Tensor4D, labels: Int32Array, epsilons: number[], ctx: AttackContext): Promise<AttackOutcome[]> {
      let out: unknown;
      try {
        out = await inner.run(model, x, labels, epsilons, ctx);
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UserError(`${where}: run() failed: ${describeError(e)}`);
      }
      try {
        return checkOutcomes(out, x, epsilons, where);
      } catch (e) {
        if (Array.isArray(out)) for (const o of out) if (o?.adversarial instanceof tf.Tensor) o.adversarial.dispose();
        throw e;
      }
    },
  };
}

/**
 * Load an attack plugin file, validate it (members, and one create({}) call), and register it: afterwards
 * `createAttack(loaded.name, params)` builds it. Loading the same file again re-registers it.
 */
export function loadAttackPlugin(file: string): LoadedAttackPlugin {
  const { path, exported, sha256 } = readPluginFile(file, 'attack');
  const where = `attack plugin '${file}'`;
  const obj = exported as Record<string, unknown>;
  const problems = new Problems();
  if (typeof obj.name !== 'string' || !NAME.test(obj.name)) problems.add(`name must be a string of letters, digits, '.', '_', '-' (got ${JSON.stringify(obj.name)})`);
  if (!THREATS.includes(obj.threat as ThreatModel)) problems.add(`threat must be one of ${THREATS.join(', ')} (got ${JSON.stringify(obj.threat)})`);
  if (!NORMS.includes(obj.norm as Norm)) problems.add(`norm must be linf or l2 (got ${JSON.stringify(obj.norm)})`);
  if (typeof obj.create !== 'function') problems.add(`create must be a function (params, runtime) => attack (got ${typeof obj.create})`);
  if (obj.describe !== undefined && typeof obj.describe !== 'string') problems.add('describe must be a string');
  checkParamSpecs(obj.params, problems);
  for (const k of unknownMembers(obj, ATTACK_MEMBERS)) problems.add(`unknown member '${k}' (expected ${ATTACK_MEMBERS.join(', ')})`);
  problems.throwIfAny(where);
  const plugin = obj as unknown as AttackPlugin;
  // declared parameters are checked (and defaulted) by the schema before create() sees them
  const schema = plugin.params ? new ParamSchema<ParamSpecs>(where, plugin.params) : undefined;
  const existing = describeAttacks().find((e) => e.name === plugin.name);
  if (existing && existing.origin !== path) {
    throw new UserError(`${where}: name '${plugin.name}' is already taken by ${existing.origin === 'built-in' || existing.origin === 'built-in preset' ? 'a built-in attack' : `'${existing.origin}'`}; rename the plugin`);
  }
  const factory: AttackFactory = (params: RawParams = {}): Attack => {
    const checked = schema ? schema.parse(params) : params;
    let attack: unknown;
    try {
      attack = plugin.create(checked, PLUGIN_RUNTIME);
    } catch (e) {
      throw new UserError(`${where}: create(${JSON.stringify(params)}) threw: ${describeError(e)}`);
    }
    return guardAttack(checkAttack(attack, where), where);
  };
  factory({}); // a factory that cannot build its default attack fails now, with the file named
  const description = plugin.describe ?? `${plugin.threat} ${plugin.norm} attack plugin`;
  registerAttack(plugin.name, factory, description, path, schema ? { params: schema } : {});
  rememberPlugin({ kind: 'attack', name: plugin.name, path, description });
  return { name: plugin.name, path, sha256, threat: plugin.threat, norm: plugin.norm, description };
}

/** `--attack` value -> Attack: a plugin file path is loaded (and registered) first, else a registry name. */
export function resolveAttack(nameOrPath: string, params: RawParams = {}): Attack {
  const name = isPluginPath(nameOrPath) ? loadAttackPlugin(nameOrPath).name : nameOrPath;
  return createAttack(name, params);
}
