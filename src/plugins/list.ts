/** The plugins loaded in this process (for `opulab list` and results metadata). */
import type { PluginInfo } from './types';

const loaded = new Map<string, PluginInfo>();

export function rememberPlugin(info: PluginInfo): void {
  loaded.set(`${info.kind}:${info.path}`, info);
}

/** Every plugin loaded so far, in load order. */
export function listPlugins(): PluginInfo[] {
  return [...loaded.values()];
}
