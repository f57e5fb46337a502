/**
 * Where a results file's compute time went: each model's training (the sum of its recorded epoch times) and each
 * attack job's wall time. A spec job writes one run per eps (and per transfer target), each carrying the job's
 * time, so a sum over runs would count a job once per eps: the job is the unit.
 */
import type { ModelRecord, RunRecord } from '../src/results/schema';
import { jobKeyOfPerSamplePath } from '../src/results/per-sample-path';

/** Seconds of a model's training: the sum of its epochs' recorded seconds (train.history), or null. */
export function trainingSeconds(m: ModelRecord): { seconds: number; epochs: number } | null {
  const history = (m.train as { history?: unknown } | undefined)?.history;
  if (!Array.isArray(history) || !history.length) return null;
  let seconds = 0;
  for (const e of history) {
    const v = (e as { seconds?: unknown }).seconds;
    if (typeof v !== 'number') return null;
    seconds += v;
  }
  return { seconds, epochs: history.length };
}

/**
 * The attack jobs behind the runs and each job's wall time: a spec job writes one run per eps (and per target for
 * transfer) with the job's time on each and per-sample files at jobPerSamplePath(key, i), so runs sharing a key are
 * one job; any other run is a job of its own.
 */
export function attackJobs(runs: readonly RunRecord[]): { runs: RunRecord[]; seconds: number }[] {
  const jobs = new Map<string, { runs: RunRecord[]; seconds: number }>();
  runs.forEach((r, i) => {
    const key = jobKeyOfPerSamplePath(r.perSample ?? '') ?? `#${i}`;
    const job = jobs.get(key) ?? { runs: [], seconds: r.wallTimeSec ?? 0 };
    job.runs.push(r);
    jobs.set(key, job);
  });
  return [...jobs.values()];
}
