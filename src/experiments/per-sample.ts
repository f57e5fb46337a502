/** The per-example records of a job's runs, one JSONL file per run under `runs/` of the experiment directory. */
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import type { JobOutput } from './execute';
import { jobPerSamplePath } from '../results/per-sample-path';

/** Write run i's records to `runs/<key>-<i>.jsonl` (atomically) and point `run.perSample` at it. */
export function writeRunFiles(outDir: string, key: string, out: JobOutput): void {
  out.runs.forEach((run, i) => {
    const rel = jobPerSamplePath(key, i);
    writeFileAtomic(path.join(outDir, rel), out.perSample[i].map((r) => JSON.stringify(r)).join('\n') + '\n');
    run.perSample = rel;
  });
}
