/**
 * `--model FILE` (a model made outside opulab, src/import) on `opulab attack`, and the flags that say how to
 * read it: --mean --std (normalization applied before the graph), --layout, --classes, --dataset.
 */
import * as fs from 'fs';
import type { Argv } from 'yargs';
import { loadDataset, parseDatasetName, prepareDataset } from '../../../datasets';
import { emptyResults, environmentInfo, recordDataProvenance } from '../../results/environment';
import type { ResultsFile } from '../../results/schema';
import { loadResultsFile } from '../../../reports/load';
import { UserError } from '../../util/errors';
import { progress } from '../../util/progress';
import type { EngineName } from '../../engine';
import { checkModelFile, parseImportGradientMode } from '../../import';
import type { AttackRequest } from '../../experiments/execute';
import { appendAttackRuns } from '../append-runs';
import { checkDataFits, classifierAccuracy, importedModelRecord, importOptionsFromFlags, openModelFile, runAttackOnFile, type ModelFileRef } from '../../experiments/imported';

export interface ModelFileArgs {
  model?: string;
  mean?: string;
  std?: string;
  layout?: string;
  classes?: number;
  dataset?: string;
}

/** The flags of a model file (`--model`, repeatable where the command compares models); --mean/--std/--layout/--classes. */
export function withModelFileOptions<T>(y: Argv<T>, modelFlag = true, repeatable = false): Argv<T> {
  let out = y;
  if (modelFlag) {
    out = out.option('model', {
      type: 'string',
      ...(repeatable ? { array: true } : {}),
      describe: 'A model file made outside opulab instead of --checkpoint: an .onnx file (NCHW or NHWC float input, logits or probabilities out) or a TensorFlow.js model.json (LayersModel or GraphModel, weight shards beside it)',
    }) as unknown as Argv<T>;
  }
  return out
    .option('mean', { type: 'string', describe: 'Model file: per-channel input mean, applied before the graph (e.g. 0.4914,0.4822,0.4465); omit when the graph normalizes inside' })
    .option('std', { type: 'string', describe: 'Model file: per-channel input std, with --mean (also converts --eps-space normalized)' })
    .option('layout', { type: 'string', describe: "Model file: input layout nchw or nhwc (default: read from the graph)" })
    .option('classes', { type: 'number', describe: "Model file: class count (default: read from the graph's output)" }) as unknown as Argv<T>;
}

/** A path that names a model file (not a checkpoint directory): an .onnx or .json file. */
export function isModelFile(p: string): boolean {
  if (!/\.(onnx|json)$/i.test(p)) return false;
  return !(fs.existsSync(p) && fs.statSync(p).isDirectory());
}

/** The file and import options of the flags, the file checked (format, operators) before any work. */
export function modelFileRef(a: ModelFileArgs & { gradient?: string }): ModelFileRef {
  if (!a.model) throw new UserError('expected --model FILE');
  if (a.gradient !== undefined) parseImportGradientMode(a.gradient);
  const options = importOptionsFromFlags(a);
  checkModelFile(a.model);
  return { path: a.model, options };
}

/** Model-file flags given without --model are a mistake worth one line. */
export function rejectStrayModelFlags(a: ModelFileArgs): void {
  for (const f of ['mean', 'std', 'layout', 'classes'] as const) {
    if (a[f] !== undefined) throw new UserError(`--${f} applies to a model file: give it with --model FILE (a checkpoint records its own)`);
  }
}

export interface ModelFileAttackArgs extends ModelFileArgs {
  samples: number;
  batchSize: number;
  out: string;
  epsSpace: string;
  dataDir?: string;
  download?: boolean;
  gradient: string;
}

/** `opulab attack --model FILE`: the same runs, records and output lines as for a checkpoint. */
export async function attackModelFile(
  args: ModelFileAttackArgs,
  requests: AttackRequest[],
  env: { backend: string; workers: number; seed: number; engine: EngineName },
): Promise<void> {
  const ref = modelFileRef(args);
  const dataset = parseDatasetName(args.dataset ?? 'cifar10');
  const m = await openModelFile(ref, { engine: env.engine, gradient: args.gradient });
  try {
    if (args.epsSpace === 'normalized' && !('std' in m.info.normalization)) {
      throw new UserError(`--eps-space normalized: the normalization of '${ref.path}' is not known (${m.info.normalization.source}): give --mean/--std, or eps in pixels`);
    }
    await prepareDataset(dataset, { dataDir: args.dataDir, download: args.download });
    const data = loadDataset(dataset, 'test', { dataDir: args.dataDir, limit: args.samples });
    checkDataFits(m, data);
    const indices = Array.from({ length: data.n }, (_, i) => i);
    const results: ResultsFile = fs.existsSync(args.out) ? loadResultsFile(args.out) : emptyResults(environmentInfo(env.backend, env.workers, env.seed, { engine: env.engine }));
    recordDataProvenance(results.environment, data.provenance);
    const id = m.classifier.id;
    if (!results.models.some((r) => r.id === id)) results.models.push(importedModelRecord(m, await classifierAccuracy(m.classifier, data, args.batchSize)));
    const dataRef = { name: dataset, dataDir: args.dataDir };
    process.stderr.write(
      `model ${ref.path}: ${m.info.layout.toUpperCase()} input ${m.info.inputShape.join('x')} (${m.info.layoutSource}), ${m.info.classes} classes, output ${m.info.outputKind} (${m.info.outputSource}); ${m.info.format}, queries on ${m.info.queryEngine}, gradient on ${m.info.gradientEngine} (${m.info.gradientMode})\n`,
    );
    if (m.info.outputKind === 'probabilities') process.stderr.write(`warning: the model outputs probabilities: attack losses are computed on them (check C12 fails such runs); export the logits instead\n`);
    for (const req of requests) {
      const bar = progress(`${req.attack} on ${id}`, 100);
      const t0 = Date.now();
      const out = await runAttackOnFile(ref, m, dataRef, indices, req, env.workers, (f, msg) => bar.update(Math.round(f * 100), msg));
      bar.done();
      appendAttackRuns(results, out, args.out, t0);
    }
  } finally {
    m.dispose();
  }
}
