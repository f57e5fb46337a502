/** What every check shares (docs/method.md §6): the Check type, one record from many findings, run selections. */
import type { CheckRecord, PerSampleRecord, ResultsFile, RunRecord } from '../../src/results/schema';
import { isDefendedId, modelById, seriesLabel } from '../runs';

/** Loads the per-sample records of a run (null when the run has none or the file is missing). */
export type PerSampleLoader = (run: RunRecord) => PerSampleRecord[] | null;

/**
 * One evaluation check: its id in docs/method.md §6 (`C11`, what the report prints), a descriptive name, the
 * title of its row in docs/method.md, and the function that computes its one record.
 */
export interface Check {
  id: string;
  name: string;
  title: string;
  compute(results: ResultsFile, load: PerSampleLoader): CheckRecord;
}

export type Status = CheckRecord['status'];
export interface Finding {
  status: Exclude<Status, 'skipped'>;
  detail: string;
}

const RANK: Record<Status, number> = { skipped: 0, pass: 1, warn: 2, fail: 3 };

/** One record from many findings: the worst decides; its sentence plus a count of the others like it. */
export function summarize(id: string, findings: Finding[], skipped: string, passSummary?: (n: number) => string): CheckRecord {
  if (findings.length === 0) return { id, status: 'skipped', detail: skipped };
  const worst = findings.reduce((a, b) => (RANK[b.status] > RANK[a.status] ? b : a));
  if (worst.status === 'pass') {
    return { id, status: 'pass', detail: passSummary ? passSummary(findings.length) : worst.detail };
  }
  const same = findings.filter((f) => f.status === worst.status).length - 1;
  const more = same > 0 ? ` (${same} more ${worst.status === 'fail' ? 'failing' : 'warning'} case${same > 1 ? 's' : ''} like it)` : '';
  return { id, status: worst.status, detail: worst.detail.replace(/\.?$/, more + '.') };
}

export function white(results: ResultsFile): RunRecord[] {
  return results.runs.filter((r) => r.threat === 'white-box');
}

/** The run with the lowest robust accuracy. */
export function strongest(runs: RunRecord[]): RunRecord {
  return runs.reduce((a, b) => (b.robustAccuracy < a.robustAccuracy ? b : a));
}

export function label(run: RunRecord): string {
  return seriesLabel(run, true);
}

export function numClasses(results: ResultsFile, modelId: string): number {
  const m = modelById(results, modelId);
  const n = m?.numClasses ?? results.environment.numClasses;
  return typeof n === 'number' && n > 1 ? n : 10;
}

export function modelsWithRuns(results: ResultsFile): string[] {
  return [...new Set(results.runs.map((r) => r.model))];
}

export function defendedModels(results: ResultsFile): string[] {
  return modelsWithRuns(results).filter((id) => isDefendedId(results, id));
}

/** Index -> "correct after the attack" (clean-correct and not broken), for one run's per-sample records. */
export function correctAfter(records: PerSampleRecord[]): Map<number, boolean> {
  const m = new Map<number, boolean>();
  for (const r of records) m.set(r.index, r.cleanPrediction === r.label && !r.success);
  return m;
}
