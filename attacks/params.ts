/**
 * The one declarative parameter schema of every attack family (white-box, black-box, transfer, noise) and of
 * the plugins: each parameter has a name, a type, a default, a range and a description. One schema both
 * validates what users give (CLI flags, `--params`, spec files, plugin parameters) and generates the parameter
 * listing of `opulab list --params` and the README's attack parameter table (attacks/param-docs.ts).
 *
 * Values may come as strings (the command line): numbers and booleans are converted. Every bad value is ONE
 * line naming the owner, the parameter and the value, and what was expected (a UserError: exit code 2):
 *   pgd: bad steps '0': expected an integer >= 1
 *   square: unknown parameter 'maxQuerys': expected one of norm, maxQueries, pInit, maxRowsPerCall
 */
import type { Attack } from '../src/types';
import { UserError } from '../src/util/errors';

/** Parameters as users give them: a loose record (values may be strings from the command line). */
export type RawParams = Readonly<Record<string, unknown>>;

/** Builds a configured attack from raw parameters (validated by the attack's schema). */
export type AttackFactory = (params?: RawParams) => Attack;

export type ParamValue = number | string | boolean;

interface SpecBase {
  /** One line for the docs: what the parameter does. */
  description: string;
  /** How the docs show a default that is not a constant (e.g. "2.5 / steps"). */
  defaultText?: string;
}

export interface NumberSpec extends SpecBase {
  type: 'number';
  default?: number;
  min?: number;
  max?: number;
  /** The bounds are exclusive (default inclusive). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface IntegerSpec extends SpecBase {
  type: 'integer';
  default?: number;
  min: number;
  max?: number;
  /** Only even values (antithetic sample pairs). */
  even?: boolean;
}

export interface BooleanSpec extends SpecBase {
  type: 'boolean';
  default?: boolean;
}

export interface EnumSpec<O extends string = string> extends SpecBase {
  type: 'enum';
  options: readonly O[];
  default?: O;
}

export interface StringSpec extends SpecBase {
  type: 'string';
  default?: string;
}

export type ParamSpec = NumberSpec | IntegerSpec | BooleanSpec | EnumSpec | StringSpec;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

type ValueOf<S> = S extends { type: 'number' | 'integer' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'enum'; options: readonly (infer O)[] }
      ? O
      : string;

/** The parsed parameters: a parameter with a default always has a value, one without may be absent. */
export type ParsedParams<S extends ParamSpecs> = {
  -readonly [K in keyof S]: S[K] extends { default: ParamValue } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

type Options<T extends ParamSpec> = Omit<T, 'type'>;

/** A real number, optionally bounded. */
export function num<const O extends Options<NumberSpec>>(o: O): O & { type: 'number' } {
  return { ...o, type: 'number' };
}

/** An integer >= min. */
export function int<const O extends Options<IntegerSpec>>(o: O): O & { type: 'integer' } {
  return { ...o, type: 'integer' };
}

/** true or false (also the strings 'true' / 'false'). */
export function bool<const O extends Options<BooleanSpec>>(o: O): O & { type: 'boolean' } {
  return { ...o, type: 'boolean' };
}

/** One of a fixed list of strings. */
export function oneOf<const V extends string, const O extends Omit<EnumSpec<V>, 'type' | 'options'>>(options: readonly V[], o: O): O & { type: 'enum'; options: readonly V[] } {
  return { ...o, type: 'enum', options };
}

/** Any string. */
export function str<const O extends Options<StringSpec>>(o: O): O & { type: 'string' } {
  return { ...o, type: 'string' };
}

/** What a value must be, in words ("an integer >= 1", "a number in (0, 1)", "one of linf, l2"). */
export function expectedText(spec: ParamSpec): string {
  switch (spec.type) {
    case 'number': {
      const lo = spec.min !== undefined ? `${spec.minExclusive ? '(' : '['}${spec.min}` : undefined;
      const hi = spec.max !== undefined ? `${spec.max}${spec.maxExclusive ? ')' : ']'}` : undefined;
      if (lo && hi) return `a number in ${lo}, ${hi}`;
      if (spec.min !== undefined) return `a number ${spec.minExclusive ? '>' : '>='} ${spec.min}`;
      if (spec.max !== undefined) return `a number ${spec.maxExclusive ? '<' : '<='} ${spec.max}`;
      return 'a number';
    }
    case 'integer': {
      const kind = spec.even ? 'an even integer' : 'an integer';
      return spec.max !== undefined ? `${kind} in [${spec.min}, ${spec.max}]` : `${kind} >= ${spec.min}`;
    }
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.options.join(', ')}`;
    case 'string':
      return 'a string';
  }
}

/** The range column of the docs: ">= 1", "(0, 1)", "linf, l2". */
export function rangeText(spec: ParamSpec): string {
  switch (spec.type) {
    case 'number': {
      if (spec.min !== undefined && spec.max !== undefined) return `${spec.minExclusive ? '(' : '['}${spec.min}, ${spec.max}${spec.maxExclusive ? ')' : ']'}`;
      if (spec.min !== undefined) return `${spec.minExclusive ? '>' : '>='} ${spec.min}`;
      if (spec.max !== undefined) return `${spec.maxExclusive ? '<' : '<='} ${spec.max}`;
      return 'any';
    }
    case 'integer': {
      const r = spec.max !== undefined ? `[${spec.min}, ${spec.max}]` : `>= ${spec.min}`;
      return spec.even ? `even, ${r}` : r;
    }
    case 'boolean':
      return 'true, false';
    case 'enum':
      return spec.options.join(', ');
    case 'string':
      return 'any';
  }
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return NaN;
}

/** The checked value, or undefined when `v` is not acceptable for `spec`. */
function coerce(spec: ParamSpec, v: unknown): ParamValue | undefined {
  switch (spec.type) {
    case 'number': {
      const n = toNumber(v);
      if (!Number.isFinite(n)) return undefined;
      if (spec.min !== undefined && (spec.minExclusive ? n <= spec.min : n < spec.min)) return undefined;
      if (spec.max !== undefined && (spec.maxExclusive ? n >= spec.max : n > spec.max)) return undefined;
      return n;
    }
    case 'integer': {
      const n = toNumber(v);
      if (!Number.isInteger(n) || n < spec.min || (spec.max !== undefined && n > spec.max)) return undefined;
      if (spec.even && n % 2 !== 0) return undefined;
      return n;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true') return true;
      if (v === 'false') return false;
      return undefined;
    case 'enum':
      return typeof v === 'string' && (spec.options as readonly string[]).includes(v) ? v : undefined;
    case 'string':
      return typeof v === 'string' ? v : undefined;
  }
}

function shown(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** A cross-parameter rule: returns what is wrong (one line, without the owner), or undefined. */
export type ParamRule<S extends ParamSpecs> = (parsed: ParsedParams<S>, raw: RawParams) => string | undefined;

/** One row of the generated docs. */
export interface ParamRow {
  name: string;
  type: ParamSpec['type'];
  default: string;
  range: string;
  description: string;
}

/** What the docs and the CLI need of any schema, whatever its parameter types. */
export interface ParamTable {
  readonly owner: string;
  names(): string[];
  rows(): ParamRow[];
}

export class ParamSchema<S extends ParamSpecs> implements ParamTable {
  constructor(
    /** Who owns the parameters, first word of every error ("pgd", "defense plugin 'x.js'"). */
    readonly owner: string,
    readonly specs: S,
    private readonly rules: readonly ParamRule<S>[] = [],
  ) {}

  names(): string[] {
    return Object.keys(this.specs);
  }

  /** The same parameters under another owner name (apgd-ce and apgd-dlr share APGD's). */
  renamed(owner: string, without: readonly (keyof S & string)[] = []): ParamSchema<S> {
    const specs: Record<string, ParamSpec> = {};
    for (const [k, s] of Object.entries(this.specs)) if (!without.includes(k)) specs[k] = s;
    return new ParamSchema(owner, specs as unknown as S, this.rules);
  }

  /**
   * Validate user parameters: unknown names and bad values are a UserError naming them; absent parameters take
   * their defaults (a parameter without a default stays absent). Keys come out in the schema's order.
   */
  parse(raw: RawParams = {}): ParsedParams<S> {
    const names = this.names();
    for (const key of Object.keys(raw)) {
      if (raw[key] !== undefined && !names.includes(key)) {
        throw new UserError(`${this.owner}: unknown parameter '${key}': expected ${names.length ? `one of ${names.join(', ')}` : 'none (it takes no parameters)'}`);
      }
    }
    const out: Record<string, ParamValue> = {};
    for (const [key, spec] of Object.entries(this.specs)) {
      const v = raw[key];
      if (v === undefined) {
        if (spec.default !== undefined) out[key] = spec.default;
        continue;
      }
      const c = coerce(spec, v);
      if (c === undefined) throw new UserError(`${this.owner}: bad ${key} '${shown(v)}': expected ${expectedText(spec)}`);
      out[key] = c;
    }
    const parsed = out as ParsedParams<S>;
    for (const rule of this.rules) {
      const problem = rule(parsed, raw);
      if (problem) throw new UserError(`${this.owner}: ${problem}`);
    }
    return parsed;
  }

  /**
   * Read parameters as recorded in a results file (extra keys ignored, bad values replaced by defaults, no rules):
   * what runs written before attacks recorded their facts are described by.
   */
  read(recorded: RawParams): ParsedParams<S> {
    const out: Record<string, ParamValue> = {};
    for (const [key, spec] of Object.entries(this.specs)) {
      const c = recorded[key] === undefined ? undefined : coerce(spec, recorded[key]);
      const v = c ?? spec.default;
      if (v !== undefined) out[key] = v;
    }
    return out as ParsedParams<S>;
  }

  rows(): ParamRow[] {
    return Object.entries(this.specs).map(([name, spec]) => ({
      name,
      type: spec.type,
      default: spec.defaultText ?? (spec.default === undefined ? '-' : String(spec.default)),
      range: rangeText(spec),
      description: spec.description,
    }));
  }
}

/** A schema whose parameters are typed by their defaults (defense plugins declare only default values). */
export function schemaFromDefaults(owner: string, defaults: Readonly<Record<string, ParamValue>>): ParamSchema<ParamSpecs> {
  const specs: Record<string, ParamSpec> = {};
  for (const [k, d] of Object.entries(defaults)) {
    const description = 'declared by the plugin';
    specs[k] =
      typeof d === 'number' ? { type: 'number', default: d, description } : typeof d === 'boolean' ? { type: 'boolean', default: d, description } : { type: 'string', default: d, description };
  }
  return new ParamSchema(owner, specs);
}

/** The `norm` parameter of the attacks that run in either norm. */
export const NORM_PARAM = oneOf(['linf', 'l2'], { default: 'linf', description: 'threat norm: linf or l2' });
