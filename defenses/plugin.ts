/**
 * Defense plugins: a CommonJS file validated against the same Defense interface as the built-ins
 * (defenses/types.ts). A plugin may give any part a built-in can:
 *   transformInput(x, ctx)      a pixel-space input transform, with its BPDA `surrogate`
 *   head                        a built-in head by name ('none', 'optical', ...) or (ctx) => stages (src/models/head.ts)
 *   training                    the training method it imposes
 *   stochastic                  whether its forward pass is random
 *   gradientModes               extra gradient modes: { name: { describe, surrogate, sign?, opu? } }
 * Every hook a plugin gives is called through a guard: whatever it throws, at load, in a training step, in an
 * evaluation or inside a worker thread, becomes ONE UserError naming the file, the hook and the message.
 *
 * Gradient behaviour: under 'natural' (and 'true') the transform is differentiated as written (a rounding step
 * then exposes a zero gradient, the obfuscated-gradient case of Athalye et al. 2018); under BPDA modes its
 * surrogate is used (default: identity, i.e. straight-through).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../src/util/errors';
import { fillUniform, makeRng } from '../src/util/rng';
import type { PluginParamValue, TrainingMethod } from '../src/models/vocabulary';
import type { GradientPath, HeadStage, InputTransform, TransformCall, TransformSurrogate } from '../src/models/head';
import type { DefensePlugin, InputTransformContext, PluginParams, PluginRuntime, SurrogateGradient } from '../src/plugins/types';
import { Problems, firstLine, readPluginFile, unknownMembers } from '../src/plugins/file';
import { isParamValue, mergeParams } from '../src/plugins/params';
import type { Defense, DefenseContext, GradientModeDecl } from './types';
import { BUILTIN_MODE_NAMES, TRUE, BPDA_NONE } from './gradient-modes';
import { checkStages, modesForStages } from './head-check';

const DEFENSE_MEMBERS = ['name', 'describe', 'params', 'stochastic', 'transformInput', 'surrogate', 'head', 'training', 'gradientModes'] as const;
const MODE_MEMBERS = ['describe', 'surrogate', 'sign', 'opu'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TRAININGS: readonly TrainingMethod[] = ['bp', 'dfa', 'hybrid'];

export const PLUGIN_RUNTIME: PluginRuntime = { tf, makeRng };

/** What the registry passes in: a built-in defense by name (a plugin's `head: 'optical'`). */
export type BuiltinLookup = (name: string) => Defense;

export interface LoadedPluginDefense {
  readonly defense: Defense;
  readonly plugin: DefensePlugin;
  readonly path: string;
  readonly sha256: string;
  readonly params: PluginParams;
}

function isSurrogateValue(s: unknown): boolean {
  return s === undefined || s === 'identity' || s === 'autodiff' || typeof s === 'function';
}

function checkMembers(obj: Record<string, unknown>, builtinNames: readonly string[], problems: Problems): void {
  if (typeof obj.name !== 'string' || !NAME.test(obj.name)) problems.add(`name must be a string of letters, digits, '.', '_', '-' (got ${JSON.stringify(obj.name)})`);
  if (obj.transformInput !== undefined && typeof obj.transformInput !== 'function') problems.add(`transformInput must be a function (x, ctx) => tensor (got ${typeof obj.transformInput})`);
  if (obj.transformInput === undefined && typeof obj.head !== 'function') problems.add('give transformInput (x, ctx) => tensor, a head (ctx) => stages, or both');
  if (obj.describe !== undefined && typeof obj.describe !== 'string') problems.add('describe must be a string');
  if (obj.stochastic !== undefined && typeof obj.stochastic !== 'boolean') problems.add('stochastic must be true or false');
  if (obj.params !== undefined) {
    if (typeof obj.params !== 'object' || obj.params === null || Array.isArray(obj.params)) problems.add('params must be an object of default values');
    else for (const [k, v] of Object.entries(obj.params)) if (!isParamValue(v)) problems.add(`params.${k} must be a number, string or boolean default (got ${JSON.stringify(v)})`);
  }
  if (!isSurrogateValue(obj.surrogate)) problems.add(`surrogate must be 'identity', 'autodiff' or a function (dy, x, ctx) => tensor (got ${JSON.stringify(obj.surrogate)})`);
  if (obj.head !== undefined && typeof obj.head !== 'function' && !builtinNames.includes(obj.head as string)) {
    problems.add(`head must be one of ${builtinNames.join(', ')} or a function (ctx) => stages (got ${JSON.stringify(obj.head)})`);
  }
  if (obj.training !== undefined && !TRAININGS.includes(obj.training as TrainingMethod)) problems.add(`training must be one of ${TRAININGS.join(', ')} (got ${JSON.stringify(obj.training)})`);
  if (obj.gradientModes !== undefined) {
    const gm = obj.gradientModes;
    if (typeof gm !== 'object' || gm === null || Array.isArray(gm)) problems.add('gradientModes must be an object { modeName: { describe, surrogate } }');
    else {
      for (const [name, m] of Object.entries(gm as Record<string, unknown>)) {
        const where = `gradientModes['${name}']`;
        if (!NAME.test(name) || (BUILTIN_MODE_NAMES as readonly string[]).includes(name)) problems.add(`${where}: the name must be new (not ${BUILTIN_MODE_NAMES.join(', ')}) and use letters, digits, '.', '_', '-'`);
        if (!m || typeof m !== 'object') {
          problems.add(`${where} must be an object { describe, surrogate }`);
          continue;
        }
        const mm = m as Record<string, unknown>;
        if (typeof mm.describe !== 'string') problems.add(`${where}.describe must be a string (what the surrogate means)`);
        if (!isSurrogateValue(mm.surrogate)) problems.add(`${where}.surrogate must be 'identity', 'autodiff' or a function (dy, x, ctx) => tensor`);
        if (mm.sign !== undefined && !['ste', 'zero'].includes(mm.sign as string)) problems.add(`${where}.sign must be 'ste' or 'zero'`);
        if (mm.opu !== undefined && !['none', 'random', 'true'].includes(mm.opu as string)) problems.add(`${where}.opu must be 'none', 'random' or 'true'`);
        for (const k of unknownMembers(mm, MODE_MEMBERS)) problems.add(`${where}: unknown member '${k}' (expected ${MODE_MEMBERS.join(', ')})`);
      }
    }
  }
  for (const k of unknownMembers(obj, DEFENSE_MEMBERS)) problems.add(`unknown member '${k}' (expected ${DEFENSE_MEMBERS.join(', ')})`);
}

/** Call a plugin hook; anything it throws becomes one UserError naming the file and the hook. */
function guarded<T>(where: string, hook: string, stage: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${where}: ${hook} threw${stage ? ` during ${stage}` : ''}: ${firstLine(e)}`);
  }
}

function stageOf(call: TransformCall): string {
  return call.training ? 'a training step' : 'evaluation';
}

function makeTransform(plugin: DefensePlugin, params: PluginParams, where: string): InputTransform | null {
  const transformInput = plugin.transformInput;
  if (!transformInput) return null;
  const ctx = (call: TransformCall): InputTransformContext => ({ ...PLUGIN_RUNTIME, seed: call.seed, training: call.training, params });
  const asTensor = (y: unknown, hook: string): tf.Tensor4D => {
    if (!(y instanceof tf.Tensor)) throw new UserError(`${where}: ${hook} returned ${typeof y}, expected a tensor (build it with ctx.tf)`);
    return y as tf.Tensor4D;
  };
  const surrogateFn = (s: 'identity' | 'autodiff' | SurrogateGradient | undefined, hook: string): TransformSurrogate | null => {
    if (s === 'autodiff') return null;
    if (s === undefined || s === 'identity') return (dy) => tf.clone(dy);
    return (dy, x, call) => {
      const g = asTensor(guarded(where, hook, stageOf(call), () => s(dy, x, ctx(call))), hook);
      if (g.shape.join('x') !== x.shape.join('x')) throw new UserError(`${where}: ${hook} returned shape [${g.shape}], expected [${x.shape}]`);
      return g;
    };
  };
  const surrogates: Record<string, TransformSurrogate> = {};
  const main = surrogateFn(plugin.surrogate, 'surrogate');
  if (main) surrogates.surrogate = main;
  for (const [name, m] of Object.entries(plugin.gradientModes ?? {})) {
    const s = surrogateFn(m.surrogate, `gradientModes['${name}'].surrogate`);
    if (s) surrogates[name] = s;
  }
  return {
    name: plugin.name,
    stochastic: plugin.stochastic === true,
    forward: (x, call) => asTensor(guarded(where, 'transformInput', stageOf(call), () => transformInput(x, ctx(call))), 'transformInput'),
    surrogates,
  };
}

/** Run the transform and every surrogate once on a small seeded batch: a broken plugin fails before any work. */
function trialRun(transform: InputTransform, where: string): void {
  const shape: [number, number, number, number] = [2, 4, 4, 3];
  tf.tidy(() => {
    const x = tf.tensor4d(fillUniform(makeRng(0, 'plugin-trial'), new Float32Array(2 * 4 * 4 * 3)), shape);
    const call = { seed: 1, training: false };
    let y: tf.Tensor;
    try {
      y = transform.forward(x, call);
    } catch (e) {
      throw new UserError(e instanceof UserError ? e.message.replace(/during evaluation/, `on a [${shape}] test batch`) : `${where}: transformInput threw on a [${shape}] test batch: ${firstLine(e)}`);
    }
    if (y.shape.join('x') !== shape.join('x') || y.dtype !== 'float32') {
      throw new UserError(`${where}: transformInput turned a float32 [${shape}] batch into ${y.dtype} [${y.shape}]; it must keep shape and dtype`);
    }
    for (const s of Object.values(transform.surrogates)) s(tf.onesLike(x), x, call);
  });
}

/** The defense a plugin file describes, checked against the Defense interface. */
export function loadPluginDefense(file: string, userParams: Readonly<Record<string, unknown>>, builtin: BuiltinLookup, builtinNames: readonly string[]): LoadedPluginDefense {
  const { path, exported, sha256 } = readPluginFile(file, 'defense');
  const where = `defense plugin '${file}'`;
  const obj = exported as Record<string, unknown>;
  const problems = new Problems();
  checkMembers(obj, builtinNames, problems);
  problems.throwIfAny(where);
  const plugin = obj as unknown as DefensePlugin;
  const params = mergeParams(where, plugin.params ?? {}, userParams);
  const transform = makeTransform(plugin, params, where);
  const headHook = typeof plugin.head === 'function' ? plugin.head : null;
  const base = builtin(typeof plugin.head === 'string' ? plugin.head : 'none');
  const customHead = (ctx: DefenseContext): HeadStage[] => {
    const stages = guarded(where, 'head', 'model construction', () => headHook!({ ...ctx, params }));
    return checkStages(stages, where);
  };
  const hasSurrogate = transform !== null && 'surrogate' in transform.surrogates;
  const modes = (ctx: DefenseContext): GradientModeDecl[] => {
    const own: GradientModeDecl[] = headHook ? modesForStages(customHead(ctx), ctx) : base.gradientModes(ctx);
    const out = own.map((m) => (m.recordAs && transform ? { ...m, recordAs: undefined } : m));
    if (transform && hasSurrogate) {
      // the input transform is not differentiable: BPDA applies even on a differentiable head
      if (!out.some((m) => m.path.inputTransform === 'surrogate')) {
        out.push({ ...BPDA_NONE, surrogate: `the input transform through the plugin's surrogate (${typeof plugin.surrogate === 'function' ? 'its own function' : 'identity: straight-through'}); the head as in 'true'`, path: { ...TRUE.path, inputTransform: 'surrogate' } });
      } else {
        for (const m of out) if (m.path.inputTransform === 'surrogate') m.surrogate += '; the input transform through the plugin\'s surrogate';
      }
    }
    for (const [name, m] of Object.entries(plugin.gradientModes ?? {})) {
      const path: GradientPath = { dfa: false, sign: m.sign ?? 'ste', opu: m.opu ?? 'true', inputTransform: name };
      out.push({ name, surrogate: m.describe, path, signSurrogate: (m.sign ?? 'ste') === 'ste' });
    }
    return out;
  };
  const record = { name: plugin.name, source: 'file' as const, path, sha256, params: { ...params } as Record<string, PluginParamValue>, ...(headHook ? {} : { head: base.name }) };
  const defense: Defense = {
    name: plugin.name,
    describe: plugin.describe ?? '',
    source: { kind: 'file', path, sha256 },
    params,
    headName: headHook ? plugin.name : base.name,
    ...(plugin.training ? { training: plugin.training } : base.training ? { training: base.training } : {}),
    ...(base.trainings && !headHook ? { trainings: base.trainings } : {}),
    inputTransform: transform,
    head: (ctx) => (headHook ? customHead(ctx) : base.head(ctx)),
    stochastic: (ctx) => plugin.stochastic === true || (!headHook && base.stochastic(ctx)),
    gradientModes: modes,
    check: () => {
      if (transform) trialRun(transform, where);
    },
    record: () => ({ ...record, params: { ...record.params } }),
  };
  return { defense, plugin, path, sha256, params };
}
