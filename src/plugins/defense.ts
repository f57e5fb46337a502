/**
 * Defense plugins: load and validate a plugin file, adapt it to Network's InputTransform hook, and record it in
 * a ModelConfig (so a checkpoint reloads the same transform with the same parameters).
 *
 * Gradient behaviour (Network.forward): under 'natural' gradients the transform is differentiated as written
 * (a bit-depth rounding then exposes a zero gradient: the obfuscated-gradient case of Athalye et al. 2018); under
 * BPDA modes the plugin's surrogate is used (default: identity, straight-through).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors';
import { makeRng, fillUniform } from '../util/rng';
import { DEFENSES, TRAINING_METHODS, DefensePluginRecord, ModelConfig, PluginParamValue, validateModelConfig } from '../models/config';
import type { InputTransform } from '../models/network';
import type { DefensePlugin, InputTransformContext, PluginParams, PluginRuntime } from './types';
import { Problems, fileSha256, firstLine, readPluginFile, unknownMembers } from './file';
import { isParamValue, mergeParams } from './params';
import { rememberPlugin } from './list';

const DEFENSE_MEMBERS = ['name', 'describe', 'params', 'stochastic', 'transformInput', 'surrogate', 'head', 'training'] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const PLUGIN_RUNTIME: PluginRuntime = { tf, makeRng };

export interface LoadedDefensePlugin {
  readonly plugin: DefensePlugin;
  /** Absolute path of the file. */
  readonly path: string;
  readonly sha256: string;
  /** Declared defaults merged with the user's values. */
  readonly params: PluginParams;
  /** What a ModelConfig records (config.plugin). */
  readonly record: DefensePluginRecord;
  /** The hook Network applies before normalization. */
  readonly transform: InputTransform;
}

function checkMembers(obj: Record<string, unknown>, problems: Problems): void {
  if (typeof obj.name !== 'string' || !NAME.test(obj.name)) problems.add(`name must be a string of letters, digits, '.', '_', '-' (got ${JSON.stringify(obj.name)})`);
  if (typeof obj.transformInput !== 'function') problems.add(`transformInput must be a function (x, ctx) => tensor (got ${typeof obj.transformInput})`);
  if (obj.describe !== undefined && typeof obj.describe !== 'string') problems.add('describe must be a string');
  if (obj.stochastic !== undefined && typeof obj.stochastic !== 'boolean') problems.add('stochastic must be true or false');
  if (obj.params !== undefined) {
    if (typeof obj.params !== 'object' || obj.params === null || Array.isArray(obj.params)) problems.add('params must be an object of default values');
    else for (const [k, v] of Object.entries(obj.params)) if (!isParamValue(v)) problems.add(`params.${k} must be a number, string or boolean default (got ${JSON.stringify(v)})`);
  }
  const s = obj.surrogate;
  if (s !== undefined && s !== 'identity' && s !== 'autodiff' && typeof s !== 'function') {
    problems.add(`surrogate must be 'identity', 'autodiff' or a function (dy, x, ctx) => tensor (got ${JSON.stringify(s)})`);
  }
  if (obj.head !== undefined && !(DEFENSES as readonly unknown[]).includes(obj.head)) problems.add(`head must be one of ${DEFENSES.join(', ')} (got ${JSON.stringify(obj.head)})`);
  if (obj.training !== undefined && !(TRAINING_METHODS as readonly unknown[]).includes(obj.training)) {
    problems.add(`training must be one of ${TRAINING_METHODS.join(', ')} (got ${JSON.stringify(obj.training)})`);
  }
  for (const k of unknownMembers(obj, DEFENSE_MEMBERS)) problems.add(`unknown member '${k}' (expected ${DEFENSE_MEMBERS.join(', ')})`);
}

function makeTransform(plugin: DefensePlugin, params: PluginParams, where: string): InputTransform {
  const ctx = (call: { seed: number; training: boolean }): InputTransformContext => ({ ...PLUGIN_RUNTIME, seed: call.seed, training: call.training, params });
  const asTensor = (y: unknown, what: string): tf.Tensor4D => {
    if (!(y instanceof tf.Tensor)) throw new UserError(`${where}: ${what} returned ${typeof y}, expected a tensor (build it with ctx.tf)`);
    return y as tf.Tensor4D;
  };
  const s = plugin.surrogate ?? 'identity';
  return {
    name: plugin.name,
    stochastic: plugin.stochastic === true,
    forward: (x, call) => asTensor(plugin.transformInput(x, ctx(call)), 'transformInput'),
    surrogateGradient:
      s === 'autodiff'
        ? null
        : s === 'identity'
          ? (dy) => tf.clone(dy)
          : (dy, x, call) => {
              const g = asTensor(s(dy, x, ctx(call)), 'surrogate');
              if (g.shape.join('x') !== x.shape.join('x')) throw new UserError(`${where}: surrogate returned shape [${g.shape}], expected [${x.shape}]`);
              return g;
            },
  };
}

/** Run the transform (and a custom surrogate) once on a small seeded batch: a broken plugin fails at load time. */
function trialRun(transform: InputTransform, where: string): void {
  const shape: [number, number, number, number] = [2, 4, 4, 3];
  tf.tidy(() => {
    const x = tf.tensor4d(fillUniform(makeRng(0, 'plugin-trial'), new Float32Array(2 * 4 * 4 * 3)), shape);
    const call = { seed: 1, training: false };
    let y: tf.Tensor;
    try {
      y = transform.forward(x, call);
    } catch (e) {
      throw e instanceof UserError ? e : new UserError(`${where}: transformInput threw on a [${shape}] test batch: ${firstLine(e)}`);
    }
    if (y.shape.join('x') !== shape.join('x') || y.dtype !== 'float32') {
      throw new UserError(`${where}: transformInput turned a float32 [${shape}] batch into ${y.dtype} [${y.shape}]; it must keep shape and dtype`);
    }
    if (transform.surrogateGradient) {
      try {
        transform.surrogateGradient(tf.onesLike(x), x, call);
      } catch (e) {
        throw e instanceof UserError ? e : new UserError(`${where}: surrogate threw on a [${shape}] test batch: ${firstLine(e)}`);
      }
    }
  });
}

/**
 * Load a defense plugin file, validate it, and merge `userParams` (e.g. from `--defense-param bits=4`) into its
 * declared defaults. Every problem is ONE UserError naming the file.
 */
export function loadDefensePlugin(file: string, userParams: Readonly<Record<string, unknown>> = {}): LoadedDefensePlugin {
  const { path, exported, sha256 } = readPluginFile(file, 'defense');
  const where = `defense plugin '${file}'`;
  const obj = exported as Record<string, unknown>;
  const problems = new Problems();
  checkMembers(obj, problems);
  problems.throwIfAny(where);
  const plugin = obj as unknown as DefensePlugin;
  const params = mergeParams(where, plugin.params ?? {}, userParams);
  const transform = makeTransform(plugin, params, where);
  trialRun(transform, where);
  rememberPlugin({ kind: 'defense', name: plugin.name, path, description: plugin.describe ?? '' });
  return { plugin, path, sha256, params, transform, record: { path, name: plugin.name, params: { ...params }, sha256 } };
}

/**
 * A model config using the plugin: its input transform, its head (default: the config's own) and training
 * method (default: the config's own).
 */
export function applyDefensePlugin(config: ModelConfig, loaded: LoadedDefensePlugin): ModelConfig {
  const out: ModelConfig = {
    ...config,
    defense: loaded.plugin.head ?? config.defense,
    training: loaded.plugin.training ?? config.training,
    plugin: { ...loaded.record, params: { ...loaded.record.params } as Record<string, PluginParamValue> },
  };
  validateModelConfig(out);
  return out;
}

const warnedChanged = new Set<string>();

/** Network's loader for config.plugin (checkpoints): the recorded file with the recorded params. */
export function loadInputTransform(record: DefensePluginRecord): InputTransform {
  if (!fs.existsSync(record.path)) {
    throw new UserError(`this model uses defense plugin '${record.name}' from '${record.path}', which no longer exists: restore the file (or retrain)`);
  }
  if (record.sha256 && fileSha256(record.path) !== record.sha256 && !warnedChanged.has(`${record.path}:${record.sha256}`)) {
    // once per file and recorded version: a command loads the same checkpoint more than once
    warnedChanged.add(`${record.path}:${record.sha256}`);
    process.stderr.write(`opulab: warning: defense plugin '${record.path}' changed since this model was built\n`);
  }
  return loadDefensePlugin(record.path, record.params).transform;
}
