/** The environment block of results.json (C15: everything needed to reproduce a number). */
import * as os from 'os';
import { availableCores } from '../util/cores';
import { EnvironmentInfo, ResultsFile, RESULTS_SCHEMA } from './schema';
import { DataProvenance } from '../../datasets/types';
import { combineProvenance } from '../../datasets/verify';
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
    // the CPUs of this process's affinity mask (what worker and thread counts default to)
    availableCores: availableCores(),
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

/**
 * Record what data a command read in `env.data` (status, official, files). Appending to an existing results file
 * keeps the weakest status of everything read into it, so unofficial data is never hidden by a later official run.
 */
export function recordDataProvenance(env: EnvironmentInfo, ...parts: (DataProvenance | undefined)[]): void {
  const before = env.data as DataProvenance | undefined;
  const combined = combineProvenance([before, ...parts]);
  if (combined) env.data = combined;
}
