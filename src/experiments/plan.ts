/**
 * `opulab run SPEC --check`: the plan of a validated spec (models to train, attack jobs of this shard) and where a
 * run in the output directory stands: what its journal holds, the epochs each unfinished model's checkpoint has
 * trained, the chunks each unfinished attack job has saved. Made without reading data, starting a backend or
 * writing anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ExperimentSpec } from './spec';
import { planJobs, describeJob, Shard, DatasetInfo } from './jobs';
import { readJournal } from './store';
import { appendedEntries } from './fold';
import { checkpointProgress, CheckpointProgress } from './progress';
import { savedChunkNumbers } from './chunk-store';
import { modelId } from '../models/config';
import { DatasetName, normalizationFor } from '../../datasets/types';

export function datasetInfo(name: string): DatasetInfo {
  const n = name as DatasetName;
  return { name: n, numClasses: n === 'cifar100' ? 100 : 10, normalization: normalizationFor(n) };
}

/** The lines `run --check` prints. */
export function planLines(spec: ExperimentSpec, specFile: string, outDir: string, shard: Shard): string[] {
  const plan = planJobs(spec, outDir, datasetInfo(spec.dataset));
  const done = new Set(readJournal(outDir).map((e) => `${e.kind}:${e.key}`));
  const mine = plan.attacks.filter((j) => j.order % shard.count === shard.index);
  const lines = [`${specFile}: valid spec '${spec.name}' (dataset ${spec.dataset}, seed ${spec.seed}); nothing was run`];
  lines.push(`${plan.models.length} models:`);
  let modelsDone = 0;
  for (const m of plan.models) {
    const recorded = done.has(`model:${m.key}`);
    if (recorded) modelsDone++;
    lines.push(`  ${m.spec.name}: ${modelId(m.config)}, ${m.spec.train.epochs} epoch${m.spec.train.epochs === 1 ? '' : 's'}${recorded ? ' (done)' : trainingState(m.dir, m.spec.train.epochs)}`);
  }
  if (plan.files.length) {
    lines.push(`${plan.files.length} model files (attacked as they are, not trained):`);
    for (const f of plan.files) lines.push(`  ${f.spec.name}: ${f.id}, ${f.spec.file}${done.has(`model:${f.key}`) ? ' (done)' : ''}`);
  }
  lines.push(`${mine.length} attack jobs${shard.count > 1 ? ` in shard ${shard.index}/${shard.count} (of ${plan.attacks.length})` : ''}:`);
  let jobsDone = 0;
  let jobsStarted = 0;
  for (const j of mine) {
    const finished = done.has(`runs:${j.key}`);
    const saved = finished ? 0 : savedChunkNumbers(outDir, j.key).length;
    if (finished) jobsDone++;
    if (saved) jobsStarted++;
    const chunks = Math.ceil(Math.min(j.samples, spec.data.testSamples) / spec.data.evalBatchSize);
    const state = finished ? ' (done)' : saved ? ` (${saved} of ${chunks} chunks saved)` : '';
    lines.push(`  ${describeJob(j)}: eps ${j.spec.eps.join(', ')} (${j.spec.epsSpace}), ${j.samples} images${state}`);
  }
  if (spec.probe) lines.push(`probe: ${spec.probe.attack} at ${spec.probe.eps} (${spec.probe.gradient}) on ${spec.probe.samples} images of every model`);
  const appended = appendedEntries(outDir).reduce((n, e) => n + (e.kind === 'runs' ? e.records.length : 0), 0);
  if (appended) lines.push(`${appended} runs appended to ${path.join(outDir, 'results.json')} by other commands will be kept`);
  // a checkpoint folder no model of the spec names (the spec or its model keys changed) is never resumed from
  const checkpoints = path.join(outDir, 'checkpoints');
  const known = new Set(plan.models.map((m) => path.basename(m.dir)));
  const strays = fs.existsSync(checkpoints) ? fs.readdirSync(checkpoints).filter((d) => !known.has(d)).sort() : [];
  for (const d of strays) lines.push(`${path.join(checkpoints, d)}: no model of this spec trains into it (a model's settings changed since?); it is not used`);
  lines.push(`in ${outDir}: ${modelsDone} of ${plan.models.length} models trained and recorded, ${jobsDone} of ${mine.length} attack jobs done${jobsStarted ? `, ${jobsStarted} partly done` : ''}`);
  return lines;
}

/** ' (trained 11 of 30 epochs, test 75.4%)' for a model whose checkpoint is not finished or not yet recorded. */
function trainingState(dir: string, epochs: number): string {
  let p: CheckpointProgress | null;
  try {
    p = checkpointProgress(dir);
  } catch (e) {
    return ` (checkpoint unreadable: ${(e as Error).message})`;
  }
  if (!p) return '';
  const acc = Number.isFinite(p.testAccuracy) ? `, test ${(100 * p.testAccuracy).toFixed(1)}%` : '';
  return p.epochsDone >= epochs ? ` (trained${acc}; not recorded yet)` : ` (trained ${p.epochsDone} of ${epochs} epochs${acc})`;
}
