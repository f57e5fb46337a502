/**
 * Attack jobs on models made outside opulab (src/import): the same chunked, seeded evaluation as a checkpoint
 * (src/parallel/evaluate-parallel.ts, workers load the file themselves), the model record with the file's path,
 * sha256 and what was read from it, and the runs of a model whose output is probabilities marked so (check C12:
 * a loss computed on probabilities hides the gradient).
 */
import * as path from 'path';
import type { Classifier } from '../types';
import type { ModelRecord, RunRecord } from '../results/schema';
import type { Dataset } from '../../datasets/types';
import { evaluateAttackParallel, type ChunkStore } from '../parallel/evaluate-parallel';
import { predictFlat } from '../../attacks/transfer';
import { UserError } from '../util/errors';
import type { WorkerPool } from '../parallel/pool';
import { loadModelFile, type ImportedModel, type ModelFileInfo, type ImportOptions, type ModelFileRef } from '../import';
import { buildEvalJob, type AttackRequest, type DataRef, type JobOutput } from './execute';

export { checkDataFits, type ModelFileRef } from '../import';

/** `--mean 0.49,0.48,0.45`: comma-separated numbers (one-line error naming the flag). */
export function parseNumberList(flag: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const v = String(text).split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || v.some((x) => !Number.isFinite(x)) || String(text).trim() === '') throw new UserError(`bad --${flag} '${text}': expected comma-separated numbers, e.g. 0.5,0.5,0.5`);
  return v;
}

/** The import options of the CLI flags --mean --std --layout --classes (checked before any work). */
export function importOptionsFromFlags(a: { mean?: string; std?: string; layout?: string; classes?: number }): ImportOptions {
  if (a.layout !== undefined && a.layout !== 'nchw' && a.layout !== 'nhwc') throw new UserError(`bad --layout '${a.layout}': expected nchw or nhwc`);
  if (a.classes !== undefined && (!Number.isInteger(a.classes) || a.classes < 2)) throw new UserError(`bad --classes ${a.classes}: expected an integer >= 2`);
  const opts: ImportOptions = {};
  const mean = parseNumberList('mean', a.mean);
  const std = parseNumberList('std', a.std);
  if (mean) opts.mean = mean;
  if (std) opts.std = std;
  if (a.layout) opts.layout = a.layout as 'nchw' | 'nhwc';
  if (a.classes !== undefined) opts.classes = a.classes;
  return opts;
}

/** Top-1 accuracy of a classifier on a dataset's first images (batches of `batchSize`). */
export async function classifierAccuracy(model: Classifier, data: Dataset, batchSize: number): Promise<{ accuracy: number; n: number }> {
  const { n, height: h, width: w, channels: c } = data;
  const pixels = new Float32Array(n * h * w * c);
  for (let i = 0; i < pixels.length; i++) pixels[i] = data.images[i] / 255;
  const pred = await predictFlat(model, pixels, [n, h, w, c], batchSize);
  let ok = 0;
  for (let i = 0; i < n; i++) if (pred[i] === data.labels[i]) ok++;
  return { accuracy: ok / n, n };
}

/** The results.json model record of an imported model. */
export function importedModelRecord(m: ImportedModel, clean: { accuracy: number; n: number }): ModelRecord {
  return {
    id: m.classifier.id,
    architecture: 'imported',
    defense: 'none',
    training: 'external',
    cleanAccuracy: clean.accuracy,
    n: clean.n,
    normalizationStd: [...m.classifier.normalizationStd],
    stochastic: false,
    modelFile: m.info,
  };
}

/** What a run's params.lossInput says when the model's scores are probabilities (read by check C12). */
export function lossInputOf(info: ModelFileInfo): string | undefined {
  return info.outputKind === 'probabilities' ? `probabilities (the model's output: ${info.outputSource})` : undefined;
}

/** Mark gradient- and score-based runs on a probabilities model (C12 fails them). */
export function markLossInput(runs: RunRecord[], info: ModelFileInfo): void {
  const input = lossInputOf(info);
  if (!input) return;
  for (const r of runs) if (r.threat === 'white-box' || r.threat === 'black-box-score') r.params = { ...r.params, lossInput: input };
}

/** A default model id for a file: file:<name>. */
export function fileModelId(file: string): string {
  return `file:${path.basename(file)}`;
}

/** Attack a model file: as runAttackOnModel (execute.ts) for a checkpoint, same chunks, seeds and job builder. */
export async function runAttackOnFile(
  ref: ModelFileRef,
  model: ImportedModel,
  data: DataRef,
  indices: number[],
  req: AttackRequest,
  workers: number,
  onProgress?: (fraction: number, message?: string) => void,
  pool?: WorkerPool,
  chunks?: ChunkStore,
): Promise<JobOutput> {
  const job = buildEvalJob({ modelFile: { path: ref.path, options: { ...ref.options, announce: false } } }, model.classifier.id, model.classifier.normalizationStd, data, indices, req, workers);
  const out = await evaluateAttackParallel(job, { workers, onProgress, pool, chunks });
  const runs = out.map((o) => o.run);
  markLossInput(runs, model.info);
  return { runs, perSample: out.map((o) => o.perSample) };
}

/** Load a model file for a command (the options of its flags or spec entry). */
export function openModelFile(ref: ModelFileRef, extra: ImportOptions = {}): Promise<ImportedModel> {
  return loadModelFile(ref.path, { ...ref.options, ...extra });
}
