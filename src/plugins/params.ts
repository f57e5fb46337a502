/**
 * Plugin parameters: a defense plugin declares defaults; users override them by name (CLI `key=value` pairs or
 * a spec object). Values given as strings (from the command line) are converted to the default's type by the
 * one parameter schema (attacks/params.ts), which attack plugins use directly (AttackPlugin.params).
 */
import { UserError } from '../util/errors';
import { schemaFromDefaults } from '../../attacks/params';
import type { PluginParamValue } from '../models/vocabulary';

export function isParamValue(v: unknown): v is PluginParamValue {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';
}

/** Parse CLI pairs such as ['bits=4', 'noise=0.02'] into a raw object (values stay strings). */
export function parseParamPairs(pairs: readonly string[], what = 'plugin parameter'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UserError(`bad ${what} '${p}': expected name=value, e.g. bits=4`);
    out[p.slice(0, i).trim()] = p.slice(i + 1).trim();
  }
  return out;
}

/**
 * Defaults merged with user values: the defaults declare the parameters (each typed by its default's type, the
 * attack parameter schema of attacks/params.ts); unknown names and wrong types are a UserError naming the plugin.
 */
export function mergeParams(where: string, defaults: Readonly<Record<string, PluginParamValue>>, user: Readonly<Record<string, unknown>>): Record<string, PluginParamValue> {
  // every parameter has a default, so every key has a value
  return schemaFromDefaults(where, defaults).parse(user) as Record<string, PluginParamValue>;
}
