/**
 * The experiment runner: spec in, results directory out.
 *
 *   OUT/checkpoints/<model>-<hash>/   one checkpoint per model config (reused when the config hash matches)
 *   OUT/journal.jsonl                 one line per finished job (model evaluation or attack), keyed by content hash
 *   OUT/runs/<key>-<i>.jsonl          per-example records of each run
 *   OUT/results.json                  assembled from the journal after every job (atomic replace)
 *
 * A killed run resumes where it stopped: finished jobs are in the journal and are skipped, training resumes from
 * the last epoch checkpoint. `--shard i/N` runs attack jobs whose order % N == i (and trains what they need);
 * `merge` unions the journals of several shard directories.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Dataset } from '../../datasets/types';
import { loadDataset, parseDatasetName } from '../../datasets';
import { prepareDataset } from '../../datasets/ensure';
import { ExperimentSpec, ModelSpec, AttackSpec } from './spec';
import { contentHash, readJournal, appendJournal, dedupe, JournalEntry, RunsEntry, ModelEntry } from './store';
import { appendedEntries, foldAppendedRuns } from './fold';
import { checksFingerprint } from '../results/fingerprint';
import { runAttackOnModel, runTransfer, AttackRequest, JobOutput, epsInPixels, attackParams } from './execute';
import { attackedClassifier } from '../parallel/attacked-classifier';
import type { EngineName } from '../engine';
import { Network } from '../models/network';
import { ModelConfig, modelId } from '../models/config';
import { findGradientMode } from '../../defenses/registry';
import { declaredGradientModes, formatGradientModes } from './gradient-modes';
import { train, evaluate, loadNetwork } from '../training/trainer';
import { defaultOptimizerConfig, OptimizerName } from '../training/optimizers';
import { defaultScheduleConfig, ScheduleName } from '../training/schedules';
import { ResultsFile, RunRecord, ModelRecord, EnvironmentInfo } from '../results/schema';
import { emptyResults, recordDataProvenance } from '../results/environment';
import { writeFileAtomic } from '../util/atomic';
import { UserError } from '../util/errors';
import { formatSeconds } from '../util/progress';
import { computeChecks } from '../../reports/checks';
import { perSampleLoaderFor } from '../../reports/load';
import { takeTensors } from '../../datasets/batches';
import { resolveAttack } from '../plugins';
import { buildModelConfig } from '../models/build-config';
import { defenseFields } from './model-record';
import { builtinDefenseNames } from '../../defenses/registry';
import { optimizerSweepExtras } from '../probe/sweep';
import { runProbe } from '../probe/run';
import { formatEps } from '../../attacks/eps';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string | undefined): Shard {
  if (!text) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new UserError(`bad --shard '${text}': expected i/N with 0 <= i < N, e.g. 0/4`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

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

export interface ModelJob {
  spec: ModelSpec;
  key: string;
  order: number;
  dir: string;
  config: ModelConfig;
}

export interface AttackJob {
  spec: AttackSpec;
  key: string;
  order: number;
  /** Target model names (one for direct attacks; the targets for transfer). */
  models: string[];
  gradient: string;
  samples: number;
}

/** The requested gradient modes that the model's defense declares (defenses/: each defense lists its own). */
function gradientsFor(spec: AttackSpec, config: ModelConfig): string[] {
  const modes = declaredGradientModes(config);
  return (spec.gradients ?? ['natural']).filter((g) => findGradientMode(modes, g) !== undefined);
}

/** The gradient modes a model's defense declares, as users write them (for error messages). */
function declaredModes(config: ModelConfig): string {
  return formatGradientModes(declaredGradientModes(config));
}

/** What planning needs of a dataset (its name, class count and normalization), so a plan can be made without reading it. */
export type DatasetInfo = Pick<Dataset, 'name' | 'numClasses' | 'normalization'>;

export function modelConfigFor(m: ModelSpec, spec: ExperimentSpec, data: DatasetInfo): ModelConfig {
  return buildModelConfig({ ...m, seed: m.seed ?? spec.seed, numClasses: data.numClasses, normalization: data.normalization });
}

export function planJobs(spec: ExperimentSpec, outDir: string, data: DatasetInfo): { models: ModelJob[]; attacks: AttackJob[] } {
  // Models whose id (architecture, width, defense, training) would collide get their spec name as a label.
  const baseIds = spec.models.map((m) => modelId(modelConfigFor(m, spec, data)));
  const models = spec.models.map((m, order): ModelJob => {
    const collides = baseIds.filter((id) => id === baseIds[order]).length > 1;
    const config = { ...modelConfigFor(m, spec, data), ...(collides ? { label: m.name } : {}) };
    const key = contentHash({ config, train: m.train, dataset: data.name, trainSamples: spec.data.trainSamples ?? null, seed: spec.seed });
    return { spec: m, key, order, config, dir: path.join(outDir, 'checkpoints', `${m.name}-${key}`) };
  });
  const byName = new Map(models.map((m) => [m.spec.name, m]));
  const attacks: AttackJob[] = [];
  spec.attacks.forEach((a, ai) => {
    const samples = a.samples ?? spec.data.attackSamples;
    const targets = a.models ?? spec.models.map((m) => m.name).filter((n) => n !== a.source);
    const common = { attack: a, index: ai, samples, testSamples: spec.data.testSamples, evalBatchSize: spec.data.evalBatchSize, dataset: data.name };
    if (a.attack === 'transfer') {
      const keys = [a.source!, ...targets].map((n) => byName.get(n)!.key);
      attacks.push({ spec: a, key: contentHash({ ...common, keys }), order: attacks.length, models: targets, gradient: 'natural', samples });
      return;
    }
    const before = attacks.length;
    for (const name of targets) {
      const m = byName.get(name)!;
      for (const gradient of gradientsFor(a, m.config)) {
        attacks.push({ spec: a, key: contentHash({ ...common, model: m.key, gradient }), order: attacks.length, models: [name], gradient, samples });
      }
    }
    // A gradient list that fits none of the attack's models would silently run nothing.
    if (attacks.length === before && targets.length) {
      const allowed = targets.map((n) => `${n}: ${declaredModes(byName.get(n)!.config)}`).join('; ');
      throw new UserError(`attacks[${ai}] (${a.label ?? a.attack}): gradients ${JSON.stringify(a.gradients ?? ['natural'])} apply to none of its models; their defenses declare ${allowed}`);
    }
  });
  return { models, attacks };
}

function requestFor(job: AttackJob, spec: ExperimentSpec, batchSize: number, engine?: EngineName): AttackRequest {
  const a = job.spec;
  return {
    attack: a.attack === 'transfer' ? a.craft ?? 'pgd' : a.attack,
    params: a.params,
    norm: a.norm,
    eps: a.eps,
    epsSpace: a.epsSpace,
    gradient: job.gradient,
    signSurrogate: a.signSurrogate ?? 'ste',
    eot: a.eot ?? 20,
    batchSize,
    seed: spec.seed,
    engine,
  };
}

/**
 * Resolve the spec's dataset: the real one when its files are found or downloaded (unless `download` is false),
 * else (demo only) the synthetic set.
 */
export async function resolveDatasets(
  spec: ExperimentSpec,
  opts: Pick<RunOptions, 'dataDir' | 'syntheticFallback' | 'log' | 'download'>,
): Promise<{ train: Dataset; test: Dataset }> {
  const name = await prepareDataset(parseDatasetName(spec.dataset), { dataDir: opts.dataDir, download: opts.download, syntheticFallback: opts.syntheticFallback, log: opts.log });
  const trainN = spec.data.trainSamples;
  return {
    train: loadDataset(name, 'train', { dataDir: opts.dataDir, limit: trainN, seed: spec.seed }),
    test: loadDataset(name, 'test', { dataDir: opts.dataDir, limit: spec.data.testSamples, seed: spec.seed }),
  };
}

export async function runExperiment(spec: ExperimentSpec, opts: RunOptions): Promise<ResultsFile> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  fs.mkdirSync(opts.outDir, { recursive: true });
  const kept = foldAppendedRuns(opts.outDir);
  if (kept.runs || kept.models) log(`kept ${kept.runs} runs and ${kept.models} models that other commands appended to ${path.join(opts.outDir, 'results.json')} (now in its journal)`);
  const started = Date.now();
  const { train: trainSet, test: testSet } = await resolveDatasets(spec, { ...opts, log });
  log(`dataset ${testSet.name} from ${testSet.source}: ${trainSet.n} train / ${testSet.n} test images`);
  const plan = planJobs(spec, opts.outDir, testSet);
  const mine = plan.attacks.filter((j) => j.order % opts.shard.count === opts.shard.index);
  const neededModels = new Set<string>(mine.flatMap((j) => [...j.models, ...(j.spec.source ? [j.spec.source] : [])]));
  // Shard 0 also trains and records every model no attack job needs, so merged shards list every model.
  if (opts.shard.index === 0) plan.models.forEach((m) => neededModels.add(m.spec.name));
  const done = new Set(readJournal(opts.outDir).map((e) => `${e.kind}:${e.key}`));
  const environment: EnvironmentInfo = { ...opts.environment, dataset: testSet.name, datasetSource: testSet.source, spec: spec.name, shard: `${opts.shard.index}/${opts.shard.count}` };
  recordDataProvenance(environment, trainSet.provenance, testSet.provenance);
  const nets = new Map<string, Network>();
  const total = neededModels.size + mine.length;
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
    for (const job of plan.models.filter((m) => neededModels.has(m.spec.name))) {
      step++;
      const t0 = Date.now();
      await trainModel(job, trainSet, testSet, spec, opts.quiet ?? false, log, step, total, opts.workers ?? 1);
      if (!done.has(`model:${job.key}`)) {
        const net = netFor(job.spec.name);
        const ev = evaluate(net, testSet, spec.data.evalBatchSize);
        const meta = JSON.parse(fs.readFileSync(path.join(job.dir, 'model.json'), 'utf8')) as { train: Record<string, unknown> };
        const record: ModelRecord = {
          id: modelId(job.config),
          name: job.spec.name,
          architecture: job.config.architecture,
          width: job.config.width,
          ...defenseFields(net),
          training: job.config.training,
          optimizer: job.spec.train.optimizer,
          cleanAccuracy: ev.accuracy,
          n: ev.n,
          normalizationStd: job.config.normalization.std,
          opuIn: job.config.opuIn,
          opuOut: job.config.opuOut,
          opuMode: job.config.opuMode,
          checkpoint: path.relative(opts.outDir, job.dir),
          train: { ...job.spec.train, epochsDone: meta.train.epochsDone, history: meta.train.history },
        };
        appendJournal(opts.outDir, { kind: 'model', key: job.key, order: job.order, record });
        log(`[${step}/${total}] ${record.id}: clean accuracy ${(100 * ev.accuracy).toFixed(1)}% on ${ev.n} test images (${formatSeconds((Date.now() - t0) / 1000)})`);
      }
    }
    const modelIdOf = (name: string): string => modelId(plan.models.find((m) => m.spec.name === name)!.config);
    for (const job of mine) {
      step++;
      if (done.has(`runs:${job.key}`)) {
        log(`[${step}/${total}] ${describeJob(job)}: already done`);
        continue;
      }
      const t0 = Date.now();
      const req = requestFor(job, spec, spec.data.evalBatchSize, opts.engine);
      const indices = Array.from({ length: Math.min(job.samples, testSet.n) }, (_, i) => i);
      let out: JobOutput;
      if (job.spec.attack === 'transfer') {
        out = await runTransfer(netFor(job.spec.source!), job.models.map(netFor), testSet, indices, req);
        out.runs.forEach((r) => (r.attack = `transfer-${req.attack}`));
      } else {
        const m = plan.models.find((mm) => mm.spec.name === job.models[0])!;
        out = await runAttackOnModel(m.dir, m.config, { name: testSet.name, dataDir: opts.dataDir, seed: spec.seed }, indices, req, opts.workers ?? 1);
      }
      if (job.spec.label) out.runs.forEach((r) => (r.attack = job.spec.label!));
      out.runs.forEach((r) => (r.wallTimeSec = (Date.now() - t0) / 1000));
      out.runs.forEach((run, i) => {
        const rel = `runs/${job.key}-${i}.jsonl`;
        writeFileAtomic(path.join(opts.outDir, rel), out.perSample[i].map((r) => JSON.stringify(r)).join('\n') + '\n');
        run.perSample = rel;
      });
      const extras = job.spec.attack !== 'transfer' && job.gradient === 'natural' ? await exampleImages(netFor(job.models[0]), testSet, req) : undefined;
      appendJournal(opts.outDir, { kind: 'runs', key: job.key, order: job.order, records: out.runs, ...(extras ? { extras } : {}) });
      log(`[${step}/${total}] ${describeJob(job)} (${formatSeconds((Date.now() - t0) / 1000)}): ${summarize(out.runs, job.spec.attack === 'transfer' ? undefined : modelIdOf(job.models[0]))}`);
      assembleResults(opts.outDir, { ...environment, wallTimeSec: (Date.now() - started) / 1000 });
    }
    if (spec.probe && opts.shard.index === 0) await runProbeJob(spec, plan.models, testSet, opts, done, log);
  } finally {
    for (const n of nets.values()) n.dispose();
  }
  return assembleResults(opts.outDir, { ...environment, wallTimeSec: (Date.now() - started) / 1000 });
}

/** The layer-similarity probe of every model (journaled like an attack job; shard 0 runs it). */
async function runProbeJob(spec: ExperimentSpec, models: ModelJob[], testSet: Dataset, opts: RunOptions, done: Set<string>, log: (l: string) => void): Promise<void> {
  const probe = spec.probe!;
  const key = contentHash({ probe, models: models.map((m) => m.key), dataset: testSet.name });
  if (done.has(`runs:${key}`)) return;
  const t0 = Date.now();
  const extra = await runProbe({
    checkpoints: models.map((m) => m.dir),
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

async function trainModel(
  job: ModelJob,
  trainSet: Dataset,
  testSet: Dataset,
  spec: ExperimentSpec,
  quiet: boolean,
  log: (l: string) => void,
  step: number,
  total: number,
  workers: number,
): Promise<void> {
  const t = job.spec.train;
  const metaFile = path.join(job.dir, 'model.json');
  if (fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as { train?: { epochsDone?: number } };
    if ((meta.train?.epochsDone ?? 0) >= t.epochs) {
      log(`[${step}/${total}] ${job.spec.name}: reusing checkpoint ${job.dir}`);
      return;
    }
  }
  log(`[${step}/${total}] training ${job.spec.name} (${modelId(job.config)}) for ${t.epochs} epochs on ${trainSet.n} images`);
  const net = new Network(job.config);
  try {
    await train(
      net,
      trainSet,
      testSet,
      {
        epochs: t.epochs,
        batchSize: t.batchSize,
        optimizer: defaultOptimizerConfig(t.optimizer as OptimizerName, {
          ...(t.lr !== undefined ? { lr: t.lr } : {}),
          ...(t.weightDecay !== undefined ? { weightDecay: t.weightDecay } : {}),
          ...(t.momentum !== undefined ? { momentum: t.momentum } : {}),
          nesterov: t.nesterov ?? false,
        }),
        schedule: defaultScheduleConfig(t.schedule as ScheduleName, { epochs: t.epochs }),
        augment: t.augment,
        seed: spec.seed,
        gradShards: t.gradShards,
      },
      { checkpointDir: job.dir, resume: true, quiet, workers, meta: { dataset: trainSet.name, datasetSource: trainSet.source, data: trainSet.provenance?.status, seed: spec.seed } },
    );
  } finally {
    net.dispose();
  }
  if (t.epochs === 0) throw new UserError(`model '${job.spec.name}': train.epochs is 0, so there is no checkpoint to attack`);
}

export function describeJob(job: AttackJob): string {
  const a = job.spec;
  if (a.attack === 'transfer') return `transfer (${a.craft}) ${a.source} -> ${job.models.join(', ')}`;
  return `${a.label ?? a.attack} on ${job.models[0]}${job.gradient !== 'natural' ? ` (${job.gradient})` : ''}`;
}

function summarize(runs: RunRecord[], model?: string): string {
  const parts = runs
    .filter((r) => model === undefined || r.model === model)
    .map((r) => `${model === undefined ? r.model + ' ' : ''}eps ${formatEps(r.eps)} ${(100 * r.robustAccuracy).toFixed(1)}%`);
  return parts.join(', ');
}

/** Three example images (clean, adversarial) at the largest eps, for the report. */
async function exampleImages(net: Network, data: Dataset, req: AttackRequest): Promise<Record<string, unknown> | undefined> {
  const { pixel } = epsInPixels(req, net.config.normalization.std);
  const eps = Math.max(...pixel);
  if (!(eps > 0)) return undefined;
  const model = attackedClassifier(net, req);
  const attack = resolveAttack(req.attack, attackParams(req, net.config.normalization.std));
  const idx = [0, 1, 2].filter((i) => i < data.n);
  const { x, y } = takeTensors(data, idx);
  const labels = Int32Array.from(y.dataSync());
  y.dispose();
  try {
    const [o] = await attack.run(model, x, labels, [eps], { seed: req.seed });
    const clean = x.dataSync();
    const adv = o.adversarial.dataSync();
    const advPred = o.adversarialPrediction ?? (await predictLabels(model.logits(o.adversarial)));
    const cleanPred = await predictLabels(model.logits(x));
    o.adversarial.dispose();
    const size = 32 * 32 * 3;
    const img = (a: Float32Array | Int32Array | Uint8Array, i: number) => ({
      width: 32,
      height: 32,
      channels: 3 as const,
      data: Buffer.from(Uint8Array.from(a.subarray(i * size, (i + 1) * size), (v) => Math.round(Math.max(0, Math.min(1, v)) * 255))).toString('base64'),
    });
    return {
      examples: idx.map((i) => ({
        model: modelId(net.config),
        attack: req.attack,
        eps,
        label: data.classNames[labels[i]] ?? labels[i],
        cleanPrediction: data.classNames[cleanPred[i]] ?? cleanPred[i],
        adversarialPrediction: data.classNames[advPred[i]] ?? advPred[i],
        clean: img(clean, i),
        adversarial: img(adv, i),
      })),
    };
  } finally {
    x.dispose();
  }
}

async function predictLabels(logits: tf.Tensor2D): Promise<number[]> {
  const p = tf.argMax(logits, 1);
  logits.dispose();
  const out = Array.from(await p.data());
  p.dispose();
  return out;
}

/** Build results.json from the journal (deduplicated, in job order), compute the checks, write atomically. */
export function assembleResults(outDir: string, environment: EnvironmentInfo, entries?: JournalEntry[]): ResultsFile {
  const all = dedupe(entries ?? readJournal(outDir));
  const results = emptyResults(environment);
  const examples: unknown[] = [];
  let probe: unknown;
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
  results.models.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  addOpticalTime(results);
  const ablation = ablationRows(results);
  const optimizers = new Set(results.models.map((m) => String(m.optimizer ?? '')));
  const sweep = optimizers.size > 1 ? optimizerSweepExtras(results.models, results.runs) : [];
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

/** Ablation table (docs/method.md §5): one row per defense variant, clean and worst robust accuracy per attack. */
function ablationRows(results: ResultsFile): { variant: string; [k: string]: string | number | null }[] {
  const builtins = builtinDefenseNames();
  const variants = results.models.filter((m) => builtins.includes(String(m.defense)));
  if (!variants.some((m) => String(m.defense).startsWith('dfa-'))) return [];
  return variants.map((m) => {
    const row: { variant: string; [k: string]: string | number | null } = { variant: String(m.defense), model: m.id, cleanAccuracy: m.cleanAccuracy };
    for (const r of results.runs.filter((x) => x.model === m.id && x.eps > 0)) {
      const k = `${r.attack} ${formatEps(r.eps)} accuracy`;
      const prev = row[k];
      row[k] = typeof prev === 'number' ? Math.min(prev, r.robustAccuracy) : r.robustAccuracy;
    }
    return row;
  });
}

/** Union the journals of several run directories (shards) into `outDir`, copying per-sample files. */
export function mergeRuns(dirs: string[], outDir: string): ResultsFile {
  if (dirs.length === 0) throw new UserError('merge: give at least one results directory');
  const entries: JournalEntry[] = [];
  let environment: EnvironmentInfo | null = null;
  for (const d of dirs) {
    if (!fs.existsSync(path.join(d, 'journal.jsonl'))) throw new UserError(`merge: '${d}' has no journal.jsonl (expected a directory written by opulab run)`);
    const journal = readJournal(d);
    entries.push(...journal, ...appendedEntries(d, journal));
    const rf = path.join(d, 'results.json');
    if (!environment && fs.existsSync(rf)) environment = (JSON.parse(fs.readFileSync(rf, 'utf8')) as ResultsFile).environment;
    const runsDir = path.join(d, 'runs');
    if (fs.existsSync(runsDir) && path.resolve(d) !== path.resolve(outDir)) {
      fs.mkdirSync(path.join(outDir, 'runs'), { recursive: true });
      for (const f of fs.readdirSync(runsDir)) fs.copyFileSync(path.join(runsDir, f), path.join(outDir, 'runs', f));
    }
  }
  const merged = dedupe(entries);
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, 'journal.jsonl'), merged.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const env = { ...(environment ?? { backend: 'unknown', workers: 1, opulab: 'unknown', node: process.version, seed: 0 }), shard: `merged from ${dirs.length}` };
  return assembleResults(outDir, env, merged);
}
