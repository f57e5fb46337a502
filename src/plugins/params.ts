/**
 * Plugin parameters: a defense plugin declares defaults; users override them by name (CLI `key=value` pairs or
 * a spec object). Values given as strings (from the command line) are converted to the default's type.
 */
import { UserError } from '../util/errors';
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

function coerce(where: string, key: string, value: unknown, def: PluginParamValue): PluginParamValue {
  const bad = (expected: string): UserError => new UserError(`${where}: bad value ${JSON.stringify(value)} for parameter '${key}': expected ${expected}`);
  if (typeof def === 'number') {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw bad('a number');
    return n;
  }
  if (typeof def === 'boolean') {
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw bad('true or false');
  }
  if (typeof value !== 'string') throw bad('a string');
  return value;
}

/** Defaults merged with user values; unknown names and wrong types are a UserError naming the plugin. */
export function mergeParams(where: string, defaults: Readonly<Record<string, PluginParamValue>>, user: Readonly<Record<string, unknown>>): Record<string, PluginParamValue> {
  const out: Record<string, PluginParamValue> = { ...defaults };
  for (const [key, value] of Object.entries(user)) {
    if (!(key in defaults)) {
      const known = Object.keys(defaults);
      throw new UserError(`${where}: unknown parameter '${key}': expected ${known.length ? `one of ${known.join(', ')}` : 'none (the plugin declares no params)'}`);
    }
    out[key] = coerce(where, key, value, defaults[key]);
  }
  return out;
}
