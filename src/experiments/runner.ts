/**
 * The experiment runner: spec in, results directory out.
 *
 *   OUT/checkpoints/<model>-<hash>/   one checkpoint per model config (reused when the config hash matches)
 *   OUT/journal.jsonl                 one line per finished job (model evaluation or attack), keyed by content hash
 *   OUT/runs/<key>-<i>.jsonl          per-example records of each run
 *   OUT/partial/<key>/chunk-<k>.json  finished chunks of the attack job under way (./chunk-store.ts)
 *   OUT/results.json                  assembled from the journal after every job (atomic replace)
 *
 * Model files of the spec (entries with "file") are not trained: each gets a model record (its clean accuracy)
 * and is attacked through the same evaluator (./imported.ts).
 *
 * A killed run resumes where it stopped: finished jobs are in the journal and are skipped, training resumes from
 * the last epoch checkpoint, and the attack job that was under way keeps its finished chunks. `--shard i/N` runs
 * attack jobs whose order % N == i (and trains what they need); `merge` unions the journals of several shard
 * directories.
 *
 * This module is the loop; each job it runs has its own module: planning (./jobs.ts), training (./train-model.ts),
 * model records (./model-record.ts), attack jobs (./execute.ts), per-sample files (./per-sample.ts), example images
 * (./examples.ts), results assembly (./assemble.ts) with the ablation table (./ablation.ts), shard merge
 * (./merge.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Dataset } from '../../datasets/types';
import { loadSplits, parseDatasetName, type SplitsRequest } from '../../datasets';
import { prepareDataset } from '../../datasets/ensure';
import type { ExperimentSpec } from './spec';
import { contentHash, readJournal, appendJournal } from './store';
import { foldAppendedRuns } from './fold';
import { runAttackOnModel, runTransfer, JobOutput } from './execute';
import { startEvalPool } from '../parallel/evaluate-parallel';
import type { WorkerPool } from '../parallel/pool';
import type { EngineName } from '../engine';
import type { Network } from '../models/network';
import { modelId } from '../models/config';
import { evaluate, loadNetwork } from '../training/trainer';
import type { ResultsFile, RunRecord, EnvironmentInfo } from '../results/schema';
import { recordDataProvenance } from '../results/environment';
import { formatSeconds, progress } from '../util/progress';
import { runProbe } from '../probe/run';
import { formatEps } from '../../attacks/eps';
import { FileModelJob, ModelJob, Shard, describeJob, planJobs, requestFor } from './jobs';
import type { Classifier } from '../types';
import type { ImportedModel } from '../import';
import { checkDataFits, classifierAccuracy, importedModelRecord, openModelFile, runAttackOnFile } from './imported';
import { trainModel, trainModelsAtOnce } from './train-model';
import { modelRecord, TrainingMeta } from './model-record';
import { writeRunFiles } from './per-sample';
import { DirChunkStore } from './chunk-store';
import { exampleImages } from './examples';
import { assembleResults } from './assemble';

export { parseShard, planJobs, describeJob, modelConfigFor } from './jobs';
export type { Shard, ModelJob, FileModelJob, AttackJob, DatasetInfo, Plan } from './jobs';
export { assembleResults, addOpticalTime } from './assemble';
export { mergeRuns } from './merge';

export interface RunOptions {
  outDir: string;
  shard: Shard;
  environment: EnvironmentInfo;
  dataDir?: string;
  /** Use the synthetic dataset when the spec's CIFAR data is not found and cannot be downloaded (the demo). */
  syntheticFallback?: boolean;
  /** Download the official archive when the data is not found (default true; false is --no-download). */
  download?: boolean;
  quiet?: boolean;
  log?: (line: string) => void;
  /** Worker threads for attack evaluation and training (results do not depend on it). */
  workers?: number;
  /** Engine of evaluation and attack steps (src/engine; default tfjs). Training stays on tfjs. */
  engine?: EngineName;
}

/**
 * Resolve the spec's dataset: the real one when its files are found or downloaded (unless `download` is false),
 * else (demo only) the synthetic set.
 */
export async function resolveDatasets(
  spec: ExperimentSpec,
  opts: Pick<RunOptions, 'dataDir' | 'syntheticFallback' | 'log' | 'download'>,
): Promise<{ train: Dataset; test: Dataset; request: SplitsRequest }> {
  const name = await prepareDataset(parseDatasetName(spec.dataset), { dataDir: opts.dataDir, download: opts.download, syntheticFallback: opts.syntheticFallback, log: opts.log });
  // the request, not the arrays, goes to training workers: each loads the same splits itself
  const request: SplitsRequest = { name, dataDir: opts.dataDir, seed: spec.seed, trainLimit: spec.data.trainSamples, testLimit: spec.data.testSamples };
  return { ...loadSplits(request), request };
}

export async function runExperiment(spec: ExperimentSpec, opts: RunOptions): Promise<ResultsFile> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  fs.mkdirSync(opts.outDir, { recursive: true });
  const kept = foldAppendedRuns(opts.outDir);
  if (kept.runs || kept.models) log(`kept ${kept.runs} runs and ${kept.models} models that other commands appended to ${path.join(opts.outDir, 'results.json')} (now in its journal)`);
  const started = Date.now();
  const { train: trainSet, test: testSet, request: splits } = await resolveDatasets(spec, { ...opts, log });
  log(`dataset ${testSet.name} from ${testSet.source}: ${trainSet.n} train / ${testSet.n} test images`);
  const plan = planJobs(spec, opts.outDir, testSet);
  const mine = plan.attacks.filter((j) => j.order % opts.shard.count === opts.shard.index);
  const neededModels = new Set<string>(mine.flatMap((j) => [...j.models, ...(j.spec.source ? [j.spec.source] : [])]));
  // Shard 0 also trains and records every model no attack job needs, so merged shards list every model.
  if (opts.shard.index === 0) [...plan.models, ...plan.files].forEach((m) => neededModels.add(m.spec.name));
  const done = new Set(readJournal(opts.outDir).map((e) => `${e.kind}:${e.key}`));
  const environment: EnvironmentInfo = { ...opts.environment, dataset: testSet.name, datasetSource: testSet.source, spec: spec.name, shard: `${opts.shard.index}/${opts.shard.count}` };
  recordDataProvenance(environment, trainSet.provenance, testSet.provenance);
  const nets = new Map<string, Network>();
  const files = new Map<string, ImportedModel>();
  let pool: WorkerPool | undefined;
  const total = neededModels.size + mine.length;
  const fileJob = (name: string): FileModelJob | undefined => plan.files.find((f) => f.spec.name === name);
  /** A model file of the spec, loaded once (the evaluation workers load their own). */
  const fileFor = async (name: string): Promise<ImportedModel> => {
    let m = files.get(name);
    if (!m) {
      const job = fileJob(name)!;
      m = await openModelFile(job.ref, { engine: opts.engine, announce: false });
      checkDataFits(m, testSet);
      files.set(name, m);
    }
    return m;
  };
  const modelFor = async (name: string): Promise<Network | Classifier> => (fileJob(name) ? (await fileFor(name)).classifier : netFor(name));
  let step = 0;
  const netFor = (name: string): Network => {
    const job = plan.models.find((m) => m.spec.name === name)!;
    let net = nets.get(name);
    if (!net) {
      net = loadNetwork(job.dir).net;
      nets.set(name, net);
    }
    return net;
  };
  try {
    const modelJobs = plan.models.filter((m) => neededModels.has(m.spec.name));
    // with several workers, the models still to train train side by side first; the loop below then reuses them
    await trainModelsAtOnce(modelJobs.filter((m) => !done.has(`model:${m.key}`)), splits, trainSet, spec, opts.workers ?? 1, opts.quiet ?? false, log);
    for (const job of modelJobs) {
      step++;
      const t0 = Date.now();
      await trainModel(job, trainSet, testSet, spec, opts.quiet ?? false, log, step, total, opts.workers ?? 1);
      if (!done.has(`model:${job.key}`)) {
        const net = netFor(job.spec.name);
        const ev = evaluate(net, testSet, spec.data.evalBatchSize);
        const meta = JSON.parse(fs.readFileSync(path.join(job.dir, 'model.json'), 'utf8')) as { train: TrainingMeta };
        const record = modelRecord(job, net, ev, meta.train, opts.outDir);
        appendJournal(opts.outDir, { kind: 'model', key: job.key, order: job.order, record });
        log(`[${step}/${total}] ${record.id}: clean accuracy ${(100 * ev.accuracy).toFixed(1)}% on ${ev.n} test images (${formatSeconds((Date.now() - t0) / 1000)})`);
      }
    }
    // model files: no training; their record (clean accuracy on the test set) is journaled like a trained model's
    for (const job of plan.files.filter((f) => neededModels.has(f.spec.name))) {
      step++;
      if (done.has(`model:${job.key}`)) continue;
      const m = await fileFor(job.spec.name);
      const ev = await classifierAccuracy(m.classifier, testSet, spec.data.evalBatchSize);
      const record = { ...importedModelRecord(m, ev), name: job.spec.name };
      appendJournal(opts.outDir, { kind: 'model', key: job.key, order: job.order, record });
      log(`[${step}/${total}] ${record.id}: ${m.info.format} file ${job.spec.file}, clean accuracy ${(100 * ev.accuracy).toFixed(1)}% on ${ev.n} test images`);
    }
    const modelIdOf = (name: string): string => fileJob(name)?.id ?? modelId(plan.models.find((m) => m.spec.name === name)!.config);
    for (const job of mine) {
      step++;
      if (done.has(`runs:${job.key}`)) {
        log(`[${step}/${total}] ${describeJob(job)}: already done`);
        continue;
      }
      const req = requestFor(job, spec, spec.data.evalBatchSize, opts.engine);
      const chunks = new DirChunkStore(opts.outDir, job.key, log);
      if (chunks.savedChunks > 0) log(`[${step}/${total}] ${describeJob(job)}: resuming with ${chunks.savedChunks} chunk(s) saved earlier`);
      // an attack job can take an hour: a progress line (percent of its work, eta) at most every 30 s off a TTY
      const bar = progress(`[${step}/${total}] ${describeJob(job)}`, 100, { quiet: opts.quiet, logEverySec: 30 });
      const onProgress = (f: number, message?: string): void => bar.update(Math.round(f * 100), message);
      const indices = Array.from({ length: Math.min(job.samples, testSet.n) }, (_, i) => i);
      let out: JobOutput;
      const file = fileJob(job.models[0]);
      if (job.spec.attack === 'transfer') {
        const targets: (Network | Classifier)[] = [];
        for (const n of job.models) targets.push(await modelFor(n));
        out = await runTransfer(await modelFor(job.spec.source!), targets, testSet, indices, req);
        out.runs.forEach((r) => (r.attack = `transfer-${req.attack}`));
      } else if (file) {
        if ((opts.workers ?? 1) > 1 && !pool) pool = await startEvalPool(opts.workers!);
        out = await runAttackOnFile(file.ref, await fileFor(file.spec.name), { name: testSet.name, dataDir: opts.dataDir, seed: spec.seed }, indices, req, opts.workers ?? 1, onProgress, pool, chunks);
      } else {
        const m = plan.models.find((mm) => mm.spec.name === job.models[0])!;
        // One pool of evaluation workers serves every attack job of the run (started at the first one).
        if ((opts.workers ?? 1) > 1 && !pool) pool = await startEvalPool(opts.workers!);
        out = await runAttackOnModel(m.dir, m.config, { name: testSet.name, dataDir: opts.dataDir, seed: spec.seed }, indices, req, opts.workers ?? 1, onProgress, pool, chunks);
      }
      bar.clear();
      const label = job.spec.label;
      if (label) {
        for (const r of out.runs) {
          if (r.attack === label) continue;
          r.method ??= r.attack;
          r.attack = label;
        }
      }
      // a resumed job's wall time continues from its saved chunks (./chunk-store.ts)
      const seconds = chunks.elapsedSec();
      out.runs.forEach((r) => (r.wallTimeSec = seconds));
      writeRunFiles(opts.outDir, job.key, out);
      const extras = job.spec.attack !== 'transfer' && !file && job.gradient === 'natural' ? await exampleImages(netFor(job.models[0]), testSet, req) : undefined;
      appendJournal(opts.outDir, { kind: 'runs', key: job.key, order: job.order, records: out.runs, ...(extras ? { extras } : {}) });
      chunks.clear();
      log(`[${step}/${total}] ${describeJob(job)} (${formatSeconds(seconds)}): ${summarize(out.runs, job.spec.attack === 'transfer' ? undefined : modelIdOf(job.models[0]))}`);
      assembleResults(opts.outDir, { ...environment, wallTimeSec: (Date.now() - started) / 1000 });
    }
    if (spec.probe && opts.shard.index === 0) await runProbeJob(spec, plan.models, plan.files, testSet, opts, done, log);
  } finally {
    for (const n of nets.values()) n.dispose();
    for (const m of files.values()) m.dispose();
    await pool?.close();
  }
  return assembleResults(opts.outDir, { ...environment, wallTimeSec: (Date.now() - started) / 1000 });
}

/** The layer-similarity probe of every model (journaled like an attack job; shard 0 runs it). */
async function runProbeJob(spec: ExperimentSpec, models: ModelJob[], files: FileModelJob[], testSet: Dataset, opts: RunOptions, done: Set<string>, log: (l: string) => void): Promise<void> {
  const probe = spec.probe!;
  // model files only in the key when there are some: a spec without them keeps its journal key
  const key = contentHash({ probe, models: models.map((m) => m.key), dataset: testSet.name, ...(files.length ? { files: files.map((f) => f.key) } : {}) });
  if (done.has(`runs:${key}`)) return;
  const t0 = Date.now();
  const extra = await runProbe({
    checkpoints: models.map((m) => m.dir),
    modelFiles: files.map((f) => f.ref),
    attack: probe.attack,
    params: { norm: 'linf', ...probe.params },
    eps: probe.eps,
    gradient: probe.gradient,
    signSurrogate: 'ste',
    eot: 0,
    samples: Math.min(probe.samples, testSet.n),
    batchSize: spec.data.evalBatchSize,
    seed: spec.seed,
    dataDir: opts.dataDir,
    dataset: testSet.name,
    engine: opts.engine,
  });
  appendJournal(opts.outDir, { kind: 'runs', key, order: Number.MAX_SAFE_INTEGER, records: [], extras: { probe: extra } });
  log(`probe: feature similarity of clean vs ${probe.attack} ${probe.eps} images at ${extra.layers.length} layers (${formatSeconds((Date.now() - t0) / 1000)})`);
}

/** The one-line result of a finished job, as its progress line prints it. */
export function summarize(runs: RunRecord[], model?: string): string {
  const mine = runs.filter((r) => model === undefined || r.model === model);
  // eps in the units the spec wrote them, so the line reads like the spec and `run --check`
  const written = (r: RunRecord): string => (r.epsSpace === 'normalized' && r.epsInSpace !== undefined ? String(r.epsInSpace) : formatEps(r.eps));
  const parts = mine.map((r) => `${model === undefined ? r.model + ' ' : ''}eps ${written(r)} ${(100 * r.robustAccuracy).toFixed(1)}%`);
  return parts.join(', ') + (mine.some((r) => r.epsSpace === 'normalized') ? ' (normalized eps)' : '');
}
