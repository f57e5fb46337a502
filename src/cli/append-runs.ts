/**
 * The end of every attack of `opulab attack` (checkpoint or model file): the runs' per-sample records written
 * beside the results file, the runs appended to it with the attack's wall time and the models' optical time,
 * the file replaced atomically (a later failure keeps what is done), and one line per run printed.
 */
import * as path from 'path';
import type { ResultsFile } from '../results/schema';
import { attachPerSample, type JobOutput } from '../experiments/execute';
import { addOpticalTime } from '../experiments/assemble';
import { writeFileAtomic } from '../util/atomic';
import { formatEps } from '../../attacks/eps';

/** Append `out` (one attack, started at `startedMs`) to `results`, write it to `outFile`, print the runs. */
export function appendAttackRuns(results: ResultsFile, out: JobOutput, outFile: string, startedMs: number): void {
  attachPerSample(path.dirname(path.resolve(outFile)), results.runs.length, out);
  results.runs.push(...out.runs);
  addOpticalTime(results);
  results.environment.wallTimeSec = ((results.environment.wallTimeSec as number | undefined) ?? 0) + (Date.now() - startedMs) / 1000;
  writeFileAtomic(outFile, JSON.stringify(results, null, 1));
  for (const r of out.runs) {
    process.stdout.write(
      `${r.attack} ${r.norm} eps ${formatEps(r.eps)} (${r.gradient ?? 'true'}): clean ${(100 * r.cleanAccuracy).toFixed(1)}% -> robust ${(100 * r.robustAccuracy).toFixed(1)}% on ${r.n} images` +
        (r.queries ? `, median queries ${r.queries.median}` : '') +
        '\n',
    );
  }
  process.stdout.write(`appended ${out.runs.length} runs to ${outFile}\n`);
}
