/**
 * results.json and the HTML report from a user's own script (the library API): the runs `evaluateAttack`
 * returned become a results file with its per-example JSONL files and the checks C1-C17 computed, in the
 * same format `opulab attack` writes (docs/architecture.md §3), and the report renders from it as with
 * `opulab report`. Every file is written atomically.
 */
import * as fs from 'fs';
import * as path from 'path';
import { getBackend } from '@tensorflow/tfjs-core';
import type { EvaluationRun } from '../attacks/evaluate';
import { writePerSample } from '../attacks/evaluate';
import type { CheckRecord, ModelRecord, PerSampleRecord, ResultsFile, RunRecord } from '../src/results/schema';
import { emptyResults, environmentInfo } from '../src/results/environment';
import { checksAreCurrent, checksFingerprint } from '../src/results/fingerprint';
import { writeFileAtomic } from '../src/util/atomic';
import { UserError } from '../src/util/errors';
import { computeChecks } from './checks';
import { renderReport } from './html';
import { loadResultsFile, perSampleLoaderFor } from './load';

export interface WriteResultsOptions {
  /** Model records; default one per model id in the runs, with the clean accuracy and n of its first run. */
  models?: ModelRecord[];
  /** The seed the script used (recorded in the environment block). */
  seed?: number;
  /** Extra environment fields (dataset, notes). */
  environment?: Record<string, unknown>;
}

/** Writes `dir/results.json` and `dir/runs/NNNN.jsonl` for `runs`, with the checks; returns the results file. */
export function writeResults(dir: string, runs: readonly EvaluationRun[], opts: WriteResultsOptions = {}): ResultsFile {
  if (runs.length === 0) throw new UserError('writeResults: expected at least one run (the output of evaluateAttack)');
  fs.mkdirSync(dir, { recursive: true });
  const results = emptyResults(environmentInfo(getBackend(), 1, opts.seed ?? 0, opts.environment ?? {}));
  const byRun = new Map<RunRecord, PerSampleRecord[]>();
  runs.forEach((r, i) => {
    const run: RunRecord = { ...r.run, perSample: writePerSample(dir, i, r.perSample) };
    byRun.set(run, r.perSample);
    results.runs.push(run);
  });
  results.models = opts.models ?? defaultModels(results.runs);
  results.checks = computeChecks(results, (run) => byRun.get(run) ?? null);
  results.checksOf = checksFingerprint(results);
  writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}

function defaultModels(runs: readonly RunRecord[]): ModelRecord[] {
  const seen = new Map<string, ModelRecord>();
  for (const r of runs) if (!seen.has(r.model)) seen.set(r.model, { id: r.model, cleanAccuracy: r.cleanAccuracy, n: r.n });
  return [...seen.values()];
}

export interface WriteReportOptions {
  /** Default: report.html beside the results file. */
  out?: string;
  title?: string;
}

/** Renders the self-contained HTML report of a results.json (checks recomputed when stale); returns where it went. */
export function writeReport(resultsJson: string, opts: WriteReportOptions = {}): { out: string; checks: CheckRecord[] } {
  const results = loadResultsFile(resultsJson);
  const out = opts.out ?? path.join(path.dirname(resultsJson), 'report.html');
  if (path.resolve(out) === path.resolve(resultsJson)) throw new UserError(`report path ${out} is the results file itself; expected a different path such as report.html`);
  const perSampleLoader = perSampleLoaderFor(resultsJson);
  const checks = checksAreCurrent(results) ? results.checks : computeChecks(results, perSampleLoader);
  writeFileAtomic(out, renderReport(results, { perSampleLoader, checks, ...(opts.title ? { title: opts.title } : {}) }));
  return { out, checks };
}
