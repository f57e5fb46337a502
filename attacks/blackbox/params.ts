/** Parameter validation for black-box attack factories: each bad value is a one-line UserError. */
import type { Norm } from '../../src/types';
import { UserError } from '../../src/util/errors';

export type RawParams = Readonly<Record<string, unknown>>;

/** Reject keys the attack does not know (a typo must not silently fall back to a default). */
export function checkKnownKeys(attack: string, params: RawParams, known: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) {
      throw new UserError(`unknown parameter '${key}' for attack '${attack}': expected one of ${known.join(', ')}`);
    }
  }
}

function num(attack: string, key: string, v: unknown): number {
  const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new UserError(`bad ${attack} parameter ${key}=${String(v)}: expected a finite number`);
  }
  return x;
}

/** A number in (0, inf) (or [0, inf) when `allowZero`). */
export function positive(attack: string, params: RawParams, key: string, dflt: number, allowZero = false): number {
  if (params[key] === undefined) return dflt;
  const x = num(attack, key, params[key]);
  if (allowZero ? x < 0 : x <= 0) {
    throw new UserError(`bad ${attack} parameter ${key}=${String(params[key])}: expected a number ${allowZero ? '>= 0' : '> 0'}`);
  }
  return x;
}

/** An integer >= min. */
export function integer(attack: string, params: RawParams, key: string, dflt: number, min = 1): number {
  if (params[key] === undefined) return dflt;
  const x = num(attack, key, params[key]);
  if (!Number.isInteger(x) || x < min) {
    throw new UserError(`bad ${attack} parameter ${key}=${String(params[key])}: expected an integer >= ${min}`);
  }
  return x;
}

/** A number in [lo, hi]. */
export function inRange(attack: string, params: RawParams, key: string, dflt: number, lo: number, hi: number): number {
  if (params[key] === undefined) return dflt;
  const x = num(attack, key, params[key]);
  if (x < lo || x > hi) {
    throw new UserError(`bad ${attack} parameter ${key}=${String(params[key])}: expected a number in [${lo}, ${hi}]`);
  }
  return x;
}

export function bool(attack: string, params: RawParams, key: string, dflt: boolean): boolean {
  const v = params[key];
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new UserError(`bad ${attack} parameter ${key}=${String(v)}: expected true or false`);
}

export function normParam(attack: string, params: RawParams, allowed: readonly Norm[], dflt: Norm): Norm {
  const v = params.norm;
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new UserError(`bad ${attack} parameter norm=${String(v)}: expected one of ${allowed.join(', ')}`);
  }
  return v as Norm;
}
