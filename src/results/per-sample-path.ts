/**
 * Where a spec job's per-example records live, relative to the experiment directory: run i of job KEY in
 * `runs/KEY-i.jsonl`. The runner writes them there (src/experiments/per-sample.ts) and the report counts the runs
 * of one job by it (reports/markdown.ts, compute time).
 */
export function jobPerSamplePath(jobKey: string, runIndex: number): string {
  return `runs/${jobKey}-${runIndex}.jsonl`;
}

/** The job key of a path written by `jobPerSamplePath`, or null for any other path. */
export function jobKeyOfPerSamplePath(p: string): string | null {
  return /^runs\/(.+)-\d+\.jsonl$/.exec(p)?.[1] ?? null;
}
