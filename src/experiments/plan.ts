/**
 * `opulab run SPEC --check`: the plan of a validated spec (models to train, attack jobs of this shard, what the
 * run directory's journal already holds), made without reading data, starting a backend or writing anything.
 */
import * as path from 'path';
import { ExperimentSpec } from './spec';
import { planJobs, describeJob, Shard, DatasetInfo } from './jobs';
import { readJournal } from './store';
import { appendedEntries } from './fold';
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
  for (const m of plan.models) {
    lines.push(`  ${m.spec.name}: ${modelId(m.config)}, ${m.spec.train.epochs} epochs${done.has(`model:${m.key}`) ? ' (done)' : ''}`);
  }
  if (plan.files.length) {
    lines.push(`${plan.files.length} model files (attacked as they are, not trained):`);
    for (const f of plan.files) lines.push(`  ${f.spec.name}: ${f.id}, ${f.spec.file}${done.has(`model:${f.key}`) ? ' (done)' : ''}`);
  }
  lines.push(`${mine.length} attack jobs${shard.count > 1 ? ` in shard ${shard.index}/${shard.count} (of ${plan.attacks.length})` : ''}:`);
  for (const j of mine) {
    lines.push(`  ${describeJob(j)}: eps ${j.spec.eps.join(', ')} (${j.spec.epsSpace}), ${j.samples} images${done.has(`runs:${j.key}`) ? ' (done)' : ''}`);
  }
  if (spec.probe) lines.push(`probe: ${spec.probe.attack} at ${spec.probe.eps} (${spec.probe.gradient}) on ${spec.probe.samples} images of every model`);
  const appended = appendedEntries(outDir).reduce((n, e) => n + (e.kind === 'runs' ? e.records.length : 0), 0);
  if (appended) lines.push(`${appended} runs appended to ${path.join(outDir, 'results.json')} by other commands will be kept`);
  return lines;
}
