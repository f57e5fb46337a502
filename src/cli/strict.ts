/**
 * Strict command lines: every option a command declares that takes a value must get one (`--eps` at the end, or
 * followed by another option, is an error), number options must parse as numbers, unknown options and commands
 * are errors, and every usage error is ONE line that names the offending option or value (with the nearest
 * valid name when there is one). Used by main.ts for every command.
 */
import type { Argv, CommandModule } from 'yargs';
import { nearestName } from '../util/nearest';

/** A command-line usage error: one line, the --help hint, exit code 2, nothing run. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** yargs' own validation errors (missing values, demanded options, bad choices). */
export function isYargsError(e: unknown): boolean {
  return e instanceof Error && e.name === 'YError';
}

/** The global options that take a value (declared in main.ts). */
export const GLOBAL_VALUE_OPTIONS = ['seed', 'backend', 'workers', 'data-dir'] as const;

/** What the parser learned about the command being parsed (for "did you mean" hints). */
interface ParseContext {
  command?: string;
  /** The command's usage line, e.g. 'run <spec>'. */
  usage?: string;
  options: string[];
  commands: string[];
}

let context: ParseContext = { options: [], commands: [] };

/** A copy of argv for one parse (and a fresh context for its messages); `commands` are the command names. */
export function prepareArgv(argv: readonly string[], commands: readonly string[]): string[] {
  context = { options: [...GLOBAL_VALUE_OPTIONS, 'help', 'version'], commands: [...commands] };
  return [...argv];
}

interface ParsedOptions {
  string: string[];
  number: string[];
  boolean: string[];
  array: string[];
}

function optionsOf(y: Argv<unknown>): ParsedOptions {
  const o = (y as unknown as { getOptions(): Partial<ParsedOptions> & { key?: Record<string, unknown> } }).getOptions();
  return { string: o.string ?? [], number: o.number ?? [], boolean: o.boolean ?? [], array: o.array ?? [] };
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The raw text given for `--key` (for messages about values yargs could not use). */
function rawValue(argv: readonly string[], key: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === `--${key}` && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith(`--${key}=`)) return a.slice(key.length + 3);
  }
  return undefined;
}

/**
 * The command with strict value handling added to its builder: options that take a value require one, number
 * options must be numbers (yargs would pass NaN on), and its option names are remembered for hints.
 */
export function strictCommand(c: CommandModule, argv: readonly string[]): CommandModule {
  const builder = c.builder;
  if (typeof builder !== 'function') return c;
  const name = String(c.command ?? '').split(' ')[0];
  return {
    ...c,
    builder: (y: Argv) => {
      const b = (builder(y) ?? y) as Argv;
      const o = optionsOf(b);
      const positional = new Set(
        String(c.command ?? '')
          .split(' ')
          .slice(1)
          .map((p) => p.replace(/[<>[\].]/g, '')),
      );
      const takesValue = [...o.string, ...o.number].filter((k) => !o.array.includes(k) && !positional.has(k) && k !== '_');
      context = { ...context, command: name, usage: String(c.command), options: [...new Set([...context.options, ...o.string, ...o.number, ...o.boolean].filter((k) => !positional.has(k)).map(kebab))] };
      if (takesValue.length) b.requiresArg(takesValue);
      return b.check((args) => {
        for (const k of [...takesValue, ...o.boolean.filter((x) => !o.array.includes(x))]) {
          if (Array.isArray(args[k])) throw new UsageError(`--${kebab(k)} given more than once; give it once`);
          if (args[k] === '' && takesValue.includes(k)) throw new UsageError(`--${kebab(k)}: empty value`);
        }
        for (const k of o.array) {
          if (Array.isArray(args[k]) && (args[k] as unknown[]).length === 0) throw new UsageError(`--${kebab(k)}: missing value`);
        }
        for (const k of o.number) {
          const v = args[k];
          const bad = (x: unknown): boolean => typeof x === 'number' && Number.isNaN(x);
          if (bad(v) || (Array.isArray(v) && v.some(bad))) {
            const raw = rawValue(argv, kebab(k)) ?? rawValue(argv, k);
            throw new UsageError(`bad --${kebab(k)}${raw !== undefined ? ` '${raw}'` : ''}: expected a number`);
          }
        }
        return true;
      });
    },
  };
}

/** yargs' message (possibly several lines) as one line naming the option and, for a typo, the nearest name. */
export function oneLineUsage(msg: string, argv: readonly string[]): string {
  const flat = msg.replace(/\s*\n\s*/g, ' ').trim();
  const choice = /^Invalid values: Argument: (\S+), Given: (.*), Choices: (.*)$/.exec(flat);
  if (choice) return `bad --${choice[1]} ${choice[2]}: expected one of ${choice[3]}`;
  const missing = /^Not enough arguments following: (\S+)$/.exec(flat);
  if (missing) return `--${missing[1]}: missing value`;
  const positional = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(flat);
  if (positional && context.usage) return `missing argument: usage is 'opulab ${context.usage}'`;
  const command = /^Unknown command: (.*)$/.exec(flat);
  if (command && !context.command) {
    const near = nearestName(command[1], context.commands);
    return `unknown command '${command[1]}'${near ? ` (did you mean '${near}'?)` : `: expected one of ${context.commands.join(', ')}`}`;
  }
  if (command) return `unexpected argument '${command[1]}' for '${context.command}' (usage: 'opulab ${context.usage}')`;
  const unknown = /^Unknown arguments?: (.*)$/.exec(flat);
  if (unknown) {
    const names = unknown[1].split(', ').map((s) => s.trim());
    const first = names[0];
    // A bare word where the command goes is an unknown command; anything else an unknown option or extra argument.
    if (!context.command && argv[0] === first) {
      const near = nearestName(first, context.commands);
      return `unknown command '${first}'${near ? ` (did you mean '${near}'?)` : `: expected one of ${context.commands.join(', ')}`}`;
    }
    const isOption = argv.some((a) => a === `--${first}` || a.startsWith(`--${first}=`) || a === `-${first}`);
    if (isOption) {
      const near = nearestName(first, context.options);
      return `unknown option --${first}${context.command ? ` for '${context.command}'` : ''}${near ? ` (did you mean --${near}?)` : ''}`;
    }
    return `unexpected argument '${first}'${context.command ? ` for '${context.command}' (usage: 'opulab ${context.usage}')` : ''}`;
  }
  return flat;
}
