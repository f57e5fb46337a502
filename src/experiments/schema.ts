/**
 * A small declarative schema for JSON input (experiment specs): each object lists its fields once, with type,
 * range, default and a one-line description. The same declaration validates input (every error names its JSON
 * path; an unknown field gets the nearest valid name) and generates the field reference in the README
 * (scripts/spec-reference.ts), so the two cannot drift apart.
 */
import { UserError } from '../util/errors';
import { nearestName } from '../util/nearest';

export type Schema = StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema | RecordSchema | UnionSchema;

interface Common {
  /** Extra check on a value of the right type; returns what is wrong (e.g. "unknown attack 'x'...") or undefined. */
  check?: (value: never, path: string) => string | undefined;
}

export interface StringSchema extends Common {
  kind: 'string';
  /** Allowed values (the reference lists them). */
  choices?: readonly string[];
  /** For the reference and messages when `check` accepts more than `choices` ("or a plugin file"). */
  expected?: string;
}

export interface NumberSchema extends Common {
  kind: 'number';
  integer?: boolean;
  min?: number;
  max?: number;
  /** min / max are exclusive. */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
}

export interface BooleanSchema extends Common {
  kind: 'boolean';
}

export interface ArraySchema extends Common {
  kind: 'array';
  items: Schema;
  minItems?: number;
  /** What the list holds, for messages and the reference (default: derived from `items`). */
  expected?: string;
}

/** A strict object: unknown fields are errors. */
export interface ObjectSchema extends Common {
  kind: 'object';
  /** Name of the object in the reference, e.g. "models[]". */
  title: string;
  fields: Readonly<Record<string, FieldSpec>>;
  /** The message of an unknown field when a generic "unknown field" would mislead (undefined: the generic one). */
  unknownField?: (key: string) => string | undefined;
}

/** A free-form object (attack params, camera settings): its keys are checked elsewhere. */
export interface RecordSchema extends Common {
  kind: 'record';
  expected?: string;
}

export interface UnionSchema extends Common {
  kind: 'union';
  of: readonly Schema[];
  expected: string;
  /** Picks the member a value is validated against (e.g. by a field it has); default: the first whose type fits. */
  select?: (value: unknown) => Schema | undefined;
}

export interface FieldSpec {
  schema: Schema;
  required?: boolean;
  /** The value used when the field is absent (shown in the reference). */
  default?: unknown;
  /** What the default means when it is not a fixed value (e.g. "spec.seed"). */
  defaultText?: string;
  doc: string;
}

function fmt(n: number): string {
  return String(n);
}

/** "a positive integer", "a number in (0, 4]", "one of a, b" ... */
export function expectedText(s: Schema): string {
  switch (s.kind) {
    case 'string':
      return s.expected ?? (s.choices ? `one of ${s.choices.join(', ')}` : 'a non-empty string');
    case 'number': {
      const what = s.integer ? 'an integer' : 'a number';
      if (s.min !== undefined && s.max !== undefined) return `${what} in ${s.exclusiveMin ? '(' : '['}${fmt(s.min)}, ${fmt(s.max)}${s.exclusiveMax ? ')' : ']'}`;
      if (s.min !== undefined) {
        if (s.integer && s.min === 1 && !s.exclusiveMin) return 'a positive integer';
        if (s.integer && s.min === 0 && !s.exclusiveMin) return 'a non-negative integer';
        if (s.min === 0 && s.exclusiveMin) return `a positive ${s.integer ? 'integer' : 'number'}`;
        return `${what} ${s.exclusiveMin ? '>' : '>='} ${fmt(s.min)}`;
      }
      if (s.max !== undefined) return `${what} ${s.exclusiveMax ? '<' : '<='} ${fmt(s.max)}`;
      return what;
    }
    case 'boolean':
      return 'true or false';
    case 'array':
      return s.expected ?? `a ${s.minItems ? 'non-empty ' : ''}list of ${plural(expectedText(s.items))}`;
    case 'object':
      return `an object (${s.title})`;
    case 'record':
      return s.expected ?? 'an object';
    case 'union':
      return s.expected;
  }
}

function plural(text: string): string {
  return text.replace(/^an? /, '').replace(/^(integer|number|string|object)\b/, '$1s').replace(/^non-empty string\b/, 'non-empty strings');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(path: string, value: unknown, expected: string): UserError {
  return new UserError(`${path}: bad value ${JSON.stringify(value) ?? String(value)}: expected ${expected}`);
}

function typeOk(s: Schema, v: unknown): boolean {
  switch (s.kind) {
    case 'string':
      return typeof v === 'string' && v !== '' && (!s.choices || s.check !== undefined || s.choices.includes(v));
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      if (s.integer && !Number.isInteger(v)) return false;
      if (s.min !== undefined && (s.exclusiveMin ? v <= s.min : v < s.min)) return false;
      if (s.max !== undefined && (s.exclusiveMax ? v >= s.max : v > s.max)) return false;
      return true;
    }
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v) && v.length >= (s.minItems ?? 0);
    case 'object':
    case 'record':
      return isObject(v);
    case 'union': {
      const chosen = s.select?.(v);
      return chosen ? typeOk(chosen, v) : s.of.some((o) => typeOk(o, v));
    }
  }
}

/**
 * Validate `value` against `s` at `path` and return it with the defaults of absent object fields filled in.
 * Throws ONE UserError for the first problem, naming its JSON path.
 */
export function validate(s: Schema, value: unknown, path: string): unknown {
  if (!typeOk(s, value)) throw bad(path, value, expectedText(s));
  let out: unknown = value;
  if (s.kind === 'array') out = (value as unknown[]).map((v, i) => validate(s.items, v, `${path}[${i}]`));
  if (s.kind === 'union') out = validate(s.select?.(value) ?? s.of.find((o) => typeOk(o, value))!, value, path);
  if (s.kind === 'object') {
    const obj = value as Record<string, unknown>;
    const names = Object.keys(s.fields);
    for (const k of Object.keys(obj)) {
      if (!(k in s.fields)) {
        const own = s.unknownField?.(k);
        if (own) throw new UserError(`${path}.${k}: ${own}`);
        const near = nearestName(k, names);
        throw new UserError(`${path}.${k}: unknown field ${near ? `(did you mean '${near}'?)` : `(expected one of ${names.join(', ')})`}`);
      }
    }
    const o: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(s.fields)) {
      const v = obj[k];
      if (v === undefined) {
        if (f.required) throw new UserError(`${path}.${k}: missing: expected ${expectedText(f.schema)}`);
        if (f.default !== undefined) o[k] = f.schema.kind === 'object' ? validate(f.schema, structuredClone(f.default), `${path}.${k}`) : structuredClone(f.default);
        continue;
      }
      o[k] = validate(f.schema, v, `${path}.${k}`);
    }
    out = o;
  }
  if (s.check) {
    let problem: string | undefined;
    try {
      problem = (s.check as (v: unknown, p: string) => string | undefined)(out, path);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      problem = e.message;
    }
    if (problem) throw new UserError(problem.startsWith(path) ? problem : `${path}: ${problem}`);
  }
  return out;
}

/** The reference rows of an object schema and of the object schemas nested in it (depth first, each once). */
export function objectSchemas(root: ObjectSchema): ObjectSchema[] {
  const out: ObjectSchema[] = [];
  const visit = (s: Schema): void => {
    if (s.kind === 'object') {
      if (out.includes(s)) return;
      out.push(s);
      Object.values(s.fields).forEach((f) => visit(f.schema));
    } else if (s.kind === 'array') visit(s.items);
    else if (s.kind === 'union') s.of.forEach(visit);
  };
  visit(root);
  return out;
}

/** Markdown tables, one per object, from the schema: field, type/allowed values, default, description. */
export function schemaReference(root: ObjectSchema): string {
  const cell = (t: string): string => t.replace(/\|/g, '\\|');
  const blocks = objectSchemas(root).map((o) => {
    const rows = Object.entries(o.fields).map(([k, f]) => {
      const def = f.required ? 'required' : f.defaultText ?? (f.default === undefined ? '—' : `\`${JSON.stringify(f.default)}\``);
      return `| \`${k}\` | ${cell(expectedText(f.schema))} | ${cell(def)} | ${cell(f.doc)} |`;
    });
    return [`**\`${o.title}\`**`, '', '| field | value | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
  });
  return blocks.join('\n\n');
}
