/** Validation of attack hyperparameters given as a loose record (CLI flags, spec files, plugins). */
import type { Norm } from '../../src/types';
import { UserError } from '../../src/util/errors';

export type RawParams = Readonly<Record<string, unknown>>;

export class ParamReader {
  constructor(
    private readonly attack: string,
    private readonly raw: RawParams,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(raw)) {
      if (raw[key] !== undefined && !allowed.includes(key)) {
        throw new UserError(`${attack}: unknown parameter '${key}': expected one of ${allowed.join(', ')}`);
      }
    }
  }

  private bad(key: string, expected: string): UserError {
    return new UserError(`${this.attack}: bad ${key} '${String(this.raw[key])}': expected ${expected}`);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  /** A number (or numeric string) satisfying `ok`. */
  number(key: string, def: number, ok: (v: number) => boolean, expected: string): number {
    const v = this.raw[key];
    if (v === undefined) return def;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || !ok(n)) throw this.bad(key, expected);
    return n;
  }

  positive(key: string, def: number): number {
    return this.number(key, def, (v) => v > 0, 'a number > 0');
  }

  int(key: string, def: number, min: number): number {
    return this.number(key, def, (v) => Number.isInteger(v) && v >= min, `an integer >= ${min}`);
  }

  bool(key: string, def: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined) return def;
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw this.bad(key, 'true or false');
  }

  oneOf<T extends string>(key: string, options: readonly T[], def: T): T {
    const v = this.raw[key];
    if (v === undefined) return def;
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      throw this.bad(key, `one of ${options.join(', ')}`);
    }
    return v as T;
  }

  norm(def: Norm = 'linf'): Norm {
    return this.oneOf<Norm>('norm', ['linf', 'l2'], def);
  }
}
