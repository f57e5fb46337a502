/** results.json of an experiment directory, assembled from its journal (with the checks computed on it). */
import * as path from 'path';
import { checksFingerprint } from '../results/fingerprint';
import type { EnvironmentInfo, ProbeExtra, ReportExample, ResultsFile } from '../results/schema';
import { emptyResults } from '../results/environment';
import { writeFileAtomic } from '../util/atomic';
import { computeChecks } from '../../reports/checks';
import { perSampleLoaderFor } from '../../reports/load';
import { optimizerSweepExtras } from '../probe/sweep';
import { readJournal, dedupe, JournalEntry, RunsEntry, ModelEntry } from './store';
import { ablationRows } from './ablation';

/** Build results.json from the journal (deduplicated, in job order), compute the checks, write atomically. */
export function assembleResults(outDir: string, environment: EnvironmentInfo, entries?: JournalEntry[]): ResultsFile {
  const all = dedupe(entries ?? readJournal(outDir));
  const results = emptyResults(environment);
  const examples: ReportExample[] = [];
  let probe: ProbeExtra | undefined;
  for (const e of all) {
    if (e.kind === 'model') results.models.push((e as ModelEntry).record);
    else {
      const r = e as RunsEntry;
      results.runs.push(...r.records);
      if (r.extras?.probe) probe = r.extras.probe;
      const ex = r.extras?.examples;
      if (Array.isArray(ex) && examples.length < 9) examples.push(...ex.slice(0, 9 - examples.length));
    }
  }
  // models stay in job order (the spec's order, whichever shard or worker finished first), which the report keeps
  addOpticalTime(results);
  const ablation = ablationRows(results);
  // an optimizer sweep is models that differ in optimizer and backbone only (examples/optimizer-sweep.json); models
  // that also differ in defense or training method (the reproduction's SGD baseline beside Adam-trained defenses)
  // are not one, and a backbone x optimizer chart of them would compare defenses under another name
  const optimizers = new Set(results.models.map((m) => String(m.optimizer ?? '')));
  const heads = new Set(results.models.map((m) => `${String(m.defense ?? '')}|${String(m.training ?? '')}`));
  const sweep = optimizers.size > 1 && heads.size === 1 ? optimizerSweepExtras(results.models, results.runs) : [];
  results.extras = { examples, ...(ablation.length > 1 ? { ablation } : {}), ...(sweep.length > 1 ? { optimizerSweep: sweep } : {}), ...(probe ? { probe } : {}) };
  const file = path.join(outDir, 'results.json');
  writeFileAtomic(file, JSON.stringify(results, null, 1));
  results.checks = computeChecks(results, perSampleLoaderFor(file));
  results.checksOf = checksFingerprint(results);
  writeFileAtomic(file, JSON.stringify(results, null, 1));
  return results;
}

/** Simulated optical hardware time per model: the sum over its runs (frames x frame time, docs/method.md §2). */
export function addOpticalTime(results: ResultsFile): void {
  for (const m of results.models) {
    const runs = results.runs.filter((r) => r.model === m.id && typeof r.opticalTimeSec === 'number');
    if (runs.length) m.opticalTimeSec = runs.reduce((a, r) => a + (r.opticalTimeSec as number), 0);
  }
}
