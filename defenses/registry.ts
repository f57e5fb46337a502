/**
 * The one defense registry. Built-in defenses are the files in defenses/builtin/ (one defense per file, found by
 * listing the folder: adding a built-in means adding a file); plugins are loaded from a path by the same
 * registry and validated against the same interface (defenses/types.ts).
 *
 *   resolveDefense('optical')                    a built-in
 *   resolveDefense('./my-defense.js', {bits: 3}) a plugin file, parameters merged into its defaults
 *   defenseForConfig(modelConfig)                what a checkpoint's config names (its plugin file re-read)
 *   gradientModesFor('optical', {training})      the gradient modes an attacker may use against it
 */
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../src/util/errors';
import { fileSha256, isPluginPath } from '../src/plugins/file';
import { rememberPlugin } from '../src/plugins/list';
import type { PluginParamValue, TrainingMethod } from '../src/models/vocabulary';
import type { HeadStage } from '../src/models/head';
import type { BuiltinDefense, Defense, DefenseContext, GradientModeDecl } from './types';
import { loadPluginDefense, LoadedPluginDefense } from './plugin';

const BUILTIN_DIR = path.join(__dirname, 'builtin');

function isBuiltinDefense(d: unknown): d is BuiltinDefense {
  const o = d as Partial<BuiltinDefense> | null;
  return !!o && typeof o.name === 'string' && typeof o.describe === 'string' && typeof o.order === 'number' && typeof o.head === 'function' && typeof o.stochastic === 'function' && typeof o.gradientModes === 'function';
}

function asDefense(b: BuiltinDefense): Defense {
  return {
    name: b.name,
    describe: b.describe,
    source: { kind: 'built-in' },
    params: {},
    headName: b.name,
    ...(b.trainings ? { trainings: b.trainings } : {}),
    inputTransform: null,
    head: b.head,
    stochastic: b.stochastic,
    gradientModes: b.gradientModes,
    check: () => undefined,
    record: () => ({ name: b.name, source: 'built-in', params: {} }),
  };
}

let builtins: Defense[] | null = null;

/** The built-in defenses, in list order (loaded once from defenses/builtin/). */
export function builtinDefenses(): readonly Defense[] {
  if (builtins) return builtins;
  const files = fs.readdirSync(BUILTIN_DIR).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'));
  const found: BuiltinDefense[] = [];
  for (const f of files) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(path.join(BUILTIN_DIR, f)) as { default?: unknown };
    const d = mod.default;
    const stem = f.replace(/\.(ts|js)$/, '');
    if (!isBuiltinDefense(d) || d.name !== stem) throw new Error(`defenses/builtin/${f} must export default a BuiltinDefense named '${stem}'`);
    found.push(d);
  }
  found.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
  builtins = found.map(asDefense);
  return builtins;
}

/** Names of the built-in defenses (`opulab list`, help texts, spec validation). */
export function builtinDefenseNames(): string[] {
  return builtinDefenses().map((d) => d.name);
}

function builtin(name: string): Defense {
  const d = builtinDefenses().find((b) => b.name === name);
  if (!d) throw new UserError(`unknown defense '${name}': expected one of ${builtinDefenseNames().join(', ')}, or a defense plugin file (./my-defense.js)`);
  return d;
}

/**
 * Load a defense plugin file (validated, params merged). `check` also runs its hooks once on a tiny batch,
 * which needs an initialised tfjs backend: commands validate names before the backend exists and check once
 * it does (Network construction checks every plugin it builds).
 */
export function loadDefenseFile(file: string, params: Readonly<Record<string, unknown>> = {}, opts: { check?: boolean } = {}): LoadedPluginDefense {
  const loaded = loadPluginDefense(file, params, builtin, builtinDefenseNames());
  if (opts.check) loaded.defense.check();
  rememberPlugin({ kind: 'defense', name: loaded.defense.name, path: loaded.path, description: loaded.defense.describe });
  return loaded;
}

/** A built-in name or a plugin path -> the Defense (plugins: validated, not yet trial-run; see loadDefenseFile). */
export function resolveDefense(nameOrPath: string, params: Readonly<Record<string, unknown>> = {}): Defense {
  if (isPluginPath(nameOrPath)) return loadDefenseFile(nameOrPath, params).defense;
  const d = builtin(nameOrPath);
  const given = Object.keys(params);
  if (given.length) throw new UserError(`defense '${nameOrPath}' takes no parameters (got ${given.join(', ')}); defense parameters are for plugin files`);
  return d;
}

/** What a model config records about a plugin defense (see ModelConfig.plugin). */
export interface PluginRef {
  path: string;
  name: string;
  params: Record<string, PluginParamValue>;
  sha256?: string;
}

/** The part of a model config a defense is resolved from. */
export interface DefenseConfig extends DefenseContext {
  defense: string;
  plugin?: PluginRef;
}

/** Files already warned about (path:recorded sha256): a command loads the same checkpoint more than once. */
const warnedChanged = new Set<string>();

/**
 * The defense of a model config: its plugin file (re-read with the recorded params; a missing file is an error,
 * a changed one a warning, once per file and recorded version) or its built-in.
 */
export function defenseForConfig(config: DefenseConfig): Defense {
  const p = config.plugin;
  if (!p) return builtin(config.defense);
  if (!fs.existsSync(p.path)) {
    throw new UserError(`this model uses defense plugin '${p.name}' from '${p.path}', which no longer exists: restore the file (or retrain)`);
  }
  if (p.sha256 && !warnedChanged.has(`${p.path}:${p.sha256}`) && fileSha256(p.path) !== p.sha256) {
    warnedChanged.add(`${p.path}:${p.sha256}`);
    process.stderr.write(`opulab: warning: defense plugin '${p.path}' changed since this model was built\n`);
  }
  return loadDefenseFile(p.path, p.params).defense;
}

/** The DefenseContext of a model config. */
export function defenseContext(config: DefenseContext): DefenseContext {
  return {
    numClasses: config.numClasses,
    training: config.training,
    opuIn: config.opuIn,
    opuOut: config.opuOut,
    opuMode: config.opuMode,
    binarizeCenter: config.binarizeCenter,
    ...(config.camera ? { camera: config.camera } : {}),
  };
}

const DEFAULT_CONTEXT: DefenseContext = { numClasses: 10, training: 'bp', opuIn: 512, opuOut: 8000, opuMode: 'reference', binarizeCenter: 'running-mean' };

/**
 * The gradient modes valid against a defense (built-in name or plugin path) on a model trained with
 * `opts.training` (default bp), with the surrogate each one means. For spec validation and `opulab list`.
 */
export function gradientModesFor(defenseNameOrPath: string, opts: { params?: Readonly<Record<string, unknown>>; training?: TrainingMethod } = {}): GradientModeDecl[] {
  const d = resolveDefense(defenseNameOrPath, opts.params ?? {});
  const ctx = { ...DEFAULT_CONTEXT, training: d.training ?? opts.training ?? 'bp' };
  return d.gradientModes(ctx);
}

/** True when `mode` (e.g. 'bpda-estimated:2000', 'bpda-true+sign-tanh:5' is not a mode: sign surrogates are separate) is one of `modes`. */
export function findGradientMode(modes: readonly GradientModeDecl[], mode: string): GradientModeDecl | undefined {
  const [name] = mode.split(':');
  return modes.find((m) => m.name === name && (m.argument !== undefined || !mode.includes(':')));
}

/** Head stages of a model config (exporters describe the head from these). */
export function headStagesFor(config: DefenseConfig): HeadStage[] {
  return defenseForConfig(config).head(defenseContext(config));
}
