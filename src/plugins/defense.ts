/**
 * Defense plugins from code: load a plugin file through the defense registry (defenses/registry.ts, validated
 * against the same Defense interface as the built-ins) and record it in a ModelConfig, so a checkpoint reloads
 * the same defense with the same parameters.
 */
import type { DefensePluginRecord, ModelConfig, PluginParamValue } from '../models/config';
import { validateModelConfig } from '../models/config';
import type { InputTransform } from '../models/head';
import type { Defense } from '../../defenses/types';
import { loadDefenseFile } from '../../defenses/registry';
import type { DefensePlugin, PluginParams } from './types';

export { PLUGIN_RUNTIME } from '../../defenses/plugin';

export interface LoadedDefensePlugin {
  readonly plugin: DefensePlugin;
  /** The plugin as a Defense (the interface every defense implements). */
  readonly defense: Defense;
  /** Absolute path of the file. */
  readonly path: string;
  readonly sha256: string;
  /** Declared defaults merged with the user's values. */
  readonly params: PluginParams;
  /** What a ModelConfig records (config.plugin). */
  readonly record: DefensePluginRecord;
  /** Its input transform (null when the plugin only gives a head). */
  readonly transform: InputTransform | null;
}

/**
 * Load a defense plugin file, validate it, merge `userParams` (e.g. from `--defense-param bits=4`) into its
 * declared defaults and run its hooks once on a tiny batch (`check: false` skips that, for validating names
 * before a tfjs backend is initialised). Every problem is ONE UserError naming the file.
 */
export function loadDefensePlugin(file: string, userParams: Readonly<Record<string, unknown>> = {}, opts: { check?: boolean } = {}): LoadedDefensePlugin {
  const loaded = loadDefenseFile(file, userParams, { check: opts.check ?? true });
  const { defense, plugin, path, sha256, params } = loaded;
  return { plugin, defense, path, sha256, params, transform: defense.inputTransform, record: { path, name: plugin.name, params: { ...params } as Record<string, PluginParamValue>, sha256 } };
}

/**
 * A model config using the plugin: its head (a built-in by name, or its own: then `defense` records the plugin's
 * name) and its training method (default: the config's own).
 */
export function applyDefensePlugin(config: ModelConfig, loaded: LoadedDefensePlugin): ModelConfig {
  const out: ModelConfig = {
    ...config,
    defense: loaded.defense.headName === loaded.defense.name ? loaded.defense.name : loaded.defense.headName,
    training: loaded.defense.training ?? config.training,
    plugin: { ...loaded.record, params: { ...loaded.record.params } },
  };
  validateModelConfig(out);
  return out;
}
