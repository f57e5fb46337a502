/** The environment block of results.json (C15: everything needed to reproduce a number). */
import * as os from 'os';
import { EnvironmentInfo, ResultsFile, RESULTS_SCHEMA } from './schema';
import { opulabVersion } from '../util/version';

export function environmentInfo(backend: string, workers: number, seed: number, extra: Record<string, unknown> = {}): EnvironmentInfo {
  return {
    backend,
    workers,
    opulab: opulabVersion(),
    node: process.version,
    seed,
    platform: `${os.platform()}-${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    tfjs: tfjsVersion(),
    startedAt: new Date().toISOString(),
    ...extra,
  };
}

function tfjsVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function emptyResults(environment: EnvironmentInfo): ResultsFile {
  return { schema: RESULTS_SCHEMA, environment, models: [], runs: [], checks: [] };
}
