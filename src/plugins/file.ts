/**
 * Reading a plugin file: resolve the path, require it (CommonJS), pick the exported object (module.exports or
 * exports.default), and hash the file so a checkpoint can notice a changed plugin. Every failure is ONE
 * UserError naming the file and what is wrong.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../util/errors';

export type PluginKind = 'defense' | 'attack';

export interface PluginFile {
  /** Absolute path. */
  path: string;
  /** The exported plugin object (not yet validated). */
  exported: unknown;
  sha256: string;
}

/** True when an --attack/--defense value names a file rather than a built-in (ends in .js/.cjs or has a slash). */
export function isPluginPath(value: string): boolean {
  return /\.(c?js|mjs|ts)$/i.test(value) || value.includes('/') || value.includes('\\');
}

export function fileSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The first line of an error message (plugin stack traces stay out of the one-line CLI error). */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

export function readPluginFile(file: string, kind: PluginKind): PluginFile {
  const abs = path.resolve(file);
  const where = `${kind} plugin '${file}'`;
  if (!fs.existsSync(abs)) throw new UserError(`${where}: file not found (looked for ${abs})`);
  if (fs.statSync(abs).isDirectory()) throw new UserError(`${where}: is a directory, expected a .js file`);
  if (/\.mjs$/i.test(abs)) throw new UserError(`${where}: ES modules are not supported; write CommonJS (module.exports = { ... }) in a .js file`);
  if (/\.ts$/i.test(abs)) throw new UserError(`${where}: TypeScript is not loaded directly; compile it to .js (tsc) and pass the .js file`);
  let mod: unknown;
  try {
    delete require.cache[abs];
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(abs);
  } catch (e) {
    const kindOf = (e as Error)?.name === 'SyntaxError' ? 'does not parse' : 'failed to load'; // name, not instanceof: another realm under jest
    throw new UserError(`${where} ${kindOf}: ${firstLine(e)}`);
  }
  const m = mod as { default?: unknown } | null;
  const exported = m && typeof m === 'object' && 'default' in m && m.default && typeof m.default === 'object' ? m.default : mod;
  if (!exported || typeof exported !== 'object' || Array.isArray(exported)) {
    throw new UserError(`${where}: exports ${exported === null ? 'null' : typeof exported}; expected an object (module.exports = { name, ... })`);
  }
  return { path: abs, exported, sha256: fileSha256(abs) };
}

/** Collects validation problems so a plugin gets ONE error listing all of them. */
export class Problems {
  private readonly list: string[] = [];
  add(problem: string): void {
    this.list.push(problem);
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  throwIfAny(where: string): void {
    if (this.list.length) throw new UserError(`${where} is invalid: ${this.list.join('; ')}`);
  }
}

/** Members outside `allowed` (catches typos such as `transfromInput`). */
export function unknownMembers(obj: object, allowed: readonly string[]): string[] {
  return Object.keys(obj).filter((k) => !allowed.includes(k));
}
