/**
 * Data-parallel attack evaluation. The examples are cut into FIXED chunks of `batchSize` (chunk k is always
 * indices[k*b .. (k+1)*b)); chunk k is evaluated by `evaluateAttack` with seed deriveSeed(seed, 'chunk', k) on a
 * model loaded from the checkpoint, and the chunk results are merged in index order. `workers: 1` runs the same
 * chunked path in-process, so every worker count gives the same per-sample records and run aggregates (only
 * wallTimeSec differs).
 *
 * Stochastic (camera-noise) models: the noise stream is restarted before every chunk, so chunk k sees the same
 * draws whichever worker runs it (and after whichever chunks).
 *
 * Because a chunk's result depends only on the job and k, a job can also be finished across processes: with a
 * `chunks` store, each chunk is saved as it finishes and a chunk found in the store is not evaluated again
 * (src/experiments/chunk-store.ts keeps them on disk for `opulab run`). The merged result is the same.
 */
import type { EvaluationRun } from '../../attacks/evaluate';
import { evaluateAttack } from '../../attacks/evaluate';
import { resolveAttack } from '../plugins/attack';
import { queryStats } from '../../attacks/blackbox/curves';
import type { Classifier, EpsSpace } from '../types';
import type { RunRecord } from '../results/schema';
import type { Dataset, DatasetName } from '../../datasets/types';
import { loadDataset } from '../../datasets/load';
import { takeTensors } from '../../datasets/batches';
import { attackedClassifier } from './attacked-classifier';
import { loadNetwork, readCheckpointMeta } from '../training/checkpoint';
import type { Network } from '../models/network';
import { deriveSeed } from '../util/rng';
import { UserError } from '../util/errors';
import { WorkerPool } from './pool';
import { EngineName, releaseEngine } from '../engine';
import { loadModelFile, type ImportOptions } from '../import';

/** A plain, structured-cloneable description of one evaluation (what every worker needs to rebuild it). */
export interface EvalJob {
  /** The checkpoint attacked ('' when `modelFile` names the model instead). */
  checkpointDir: string;
  /** A model file made outside opulab (src/import) instead of a checkpoint; gradientMode applies to it. */
  modelFile?: { path: string; options: ImportOptions };
  gradientMode: string;
  signSurrogate: string;
  /** EOT gradient samples for a stochastic model (absent or 0 = off). */
  eot?: number;
  attack: string;
  attackParams: Record<string, unknown>;
  /** Eps in pixel units, one run per entry. */
  epsPixel: number[];
  epsSpace: EpsSpace;
  /** The eps as the user wrote them (same length as epsPixel). */
  epsInSpace?: number[];
  dataset: { name: DatasetName; dataDir?: string; split: 'test'; indices: number[]; /** synthetic set seed */ seed?: number };
  batchSize: number;
  seed: number;
  modelId: string;
  /** Engine of the classifier (default tfjs) and its ONNX Runtime threads per worker. */
  engine?: EngineName;
  engineThreads?: number;
}

export interface ParallelEvalOptions {
  workers: number;
  onProgress?: (fraction: number, message?: string) => void;
  /** Backend of the worker threads (default: this thread's current tfjs backend). */
  backend?: string;
  /**
   * A pool the caller started with `startEvalPool` and closes itself (a run hands one pool to all its attack
   * jobs); without it, `workers` > 1 starts a pool for this job and closes it after.
   */
  pool?: WorkerPool;
  /** Chunks finished earlier (not evaluated again) and where each newly finished chunk is saved. */
  chunks?: ChunkStore;
}

/** Finished chunks of one job, by chunk number (see the module comment). */
export interface ChunkStore {
  /** Chunk k's runs (one per eps) if it was saved for this very job, else undefined. */
  load(k: number, indices: readonly number[]): EvaluationRun[] | undefined;
  save(k: number, indices: readonly number[], runs: EvaluationRun[]): void;
}

/** A pool of evaluation workers shared by several jobs: each task carries its job (see eval-worker.ts). */
export function startEvalPool(workers: number, backend?: string): Promise<WorkerPool> {
  return WorkerPool.start({ workers, kind: 'eval', init: null, backend });
}

export function validateEvalJob(job: EvalJob): void {
  const { indices } = job.dataset;
  if (!Array.isArray(indices) || indices.length === 0) throw new UserError('evaluation job: dataset.indices is empty; expected at least one index');
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0) throw new UserError(`evaluation job: bad index ${i}: expected an integer >= 0`);
  }
  if (!Number.isInteger(job.batchSize) || job.batchSize < 1) throw new UserError(`bad batch size '${job.batchSize}': expected an integer >= 1`);
  if (!Array.isArray(job.epsPixel) || job.epsPixel.length === 0) throw new UserError('evaluation job: epsPixel is empty; expected at least one eps');
  if (job.eot !== undefined && (!Number.isInteger(job.eot) || job.eot < 0)) throw new UserError(`bad EOT samples '${job.eot}': expected an integer >= 0`);
  if (!Number.isInteger(job.seed)) throw new UserError(`bad seed '${job.seed}': expected an integer`);
}

export function numChunks(job: Pick<EvalJob, 'dataset' | 'batchSize'>): number {
  return Math.ceil(job.dataset.indices.length / job.batchSize);
}

/** Dataset indices of chunk k: indices[k*b .. (k+1)*b). */
export function chunkIndices(job: Pick<EvalJob, 'dataset' | 'batchSize'>, k: number): number[] {
  return job.dataset.indices.slice(k * job.batchSize, (k + 1) * job.batchSize);
}

/** Everything needed to evaluate chunks of one job: the loaded model, classifier and data (one per thread). */
export class EvalChunkRunner {
  private constructor(
    readonly job: EvalJob,
    private readonly net: Network | null,
    private readonly model: Classifier,
    private readonly data: Dataset,
    private readonly release: () => void = () => undefined,
  ) {}

  private static loadData(job: EvalJob): Dataset {
    const { name, dataDir, split, indices, seed } = job.dataset;
    // Read only the prefix that holds the requested examples (CIFAR files and the synthetic set are prefix-stable).
    const limit = Math.max(...indices) + 1;
    const data = loadDataset(name, split, { dataDir, limit, seed });
    if (data.n < limit) throw new UserError(`index ${limit - 1} is out of range for dataset ${name} ${split}: it has ${data.n} examples`);
    return data;
  }

  /** Opens the job's model (a model file loads asynchronously) and reads its data. */
  static async open(job: EvalJob): Promise<EvalChunkRunner> {
    validateEvalJob(job);
    if (job.modelFile) {
      const m = await loadModelFile(job.modelFile.path, { ...job.modelFile.options, gradient: job.gradientMode, engine: job.engine, threads: job.engineThreads, id: job.modelId });
      try {
        return new EvalChunkRunner(job, null, m.classifier, EvalChunkRunner.loadData(job), () => m.dispose());
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    const { net } = loadNetwork(job.checkpointDir);
    try {
      const model = attackedClassifier(net, {
        gradient: job.gradientMode,
        signSurrogate: job.signSurrogate,
        eot: job.eot ?? 0,
        seed: job.seed,
        engine: job.engine,
        engineThreads: job.engineThreads,
      });
      return new EvalChunkRunner(job, net, model, EvalChunkRunner.loadData(job));
    } catch (e) {
      releaseEngine(net);
      net.dispose();
      throw e;
    }
  }

  async runChunk(k: number, onProgress?: (fraction: number, message?: string) => void): Promise<EvaluationRun[]> {
    const idx = chunkIndices(this.job, k);
    if (idx.length === 0) throw new Error(`chunk ${k} is empty (job has ${numChunks(this.job)} chunks)`);
    // each chunk draws its own camera noise stream, whichever worker runs it
    this.net?.opu?.camera.reseedNoise(deriveSeed(this.job.seed, 'chunk-camera', k));
    const { x, y } = takeTensors(this.data, idx);
    y.dispose();
    const labels = Int32Array.from(idx, (i) => this.data.labels[i]);
    this.net?.opu?.resetCounters();
    try {
      const runs = await evaluateAttack(this.model, { x, labels, indices: Int32Array.from(idx) }, resolveAttack(this.job.attack, this.job.attackParams), this.job.epsPixel, {
        seed: deriveSeed(this.job.seed, 'chunk', k),
        batchSize: this.job.batchSize,
        epsSpace: this.job.epsSpace,
        epsInSpace: this.job.epsInSpace,
        modelId: this.job.modelId,
        onProgress,
      });
      // Simulated hardware time (frames x frame time) of this chunk's attack. One attack call covers all eps, so
      // the time is shared equally between the eps runs (their sum is the job's optical time).
      const optical = this.net?.opu?.opticalTimeSec();
      if (optical !== undefined) for (const r of runs) r.run.opticalTimeSec = optical / runs.length;
      return runs;
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    if (this.net) {
      releaseEngine(this.net);
      this.net.dispose();
    }
    this.release();
  }
}

/**
 * Merge per-chunk results (chunks[k][e] = chunk k, eps e) into one run per eps: per-sample records concatenated in
 * chunk order, aggregates recomputed over all examples. queries: curves.ts statistics over the clean-correct
 * examples (mean/median of the successful ones); gradientStats weighted by each chunk's gradient entries.
 */
export function mergeChunkRuns(chunks: readonly EvaluationRun[][], job: Pick<EvalJob, 'seed' | 'batchSize'>, wallTimeSec: number): EvaluationRun[] {
  if (chunks.length === 0) throw new Error('mergeChunkRuns: no chunks');
  const numEps = chunks[0].length;
  for (const c of chunks) if (c.length !== numEps) throw new Error(`mergeChunkRuns: chunks have ${c.length} and ${numEps} runs`);
  const out: EvaluationRun[] = [];
  for (let e = 0; e < numEps; e++) {
    const parts = chunks.map((c) => c[e]);
    const perSample = parts.flatMap((p) => p.perSample);
    const n = perSample.length;
    const cleanCorrect = perSample.map((r) => r.cleanPrediction === r.label);
    const nCorrect = cleanCorrect.filter(Boolean).length;
    const robust = perSample.filter((r, i) => cleanCorrect[i] && r.adversarialPrediction === r.label).length;
    const successes = perSample.filter((r, i) => cleanCorrect[i] && r.success).length;
    const first = parts[0].run;
    const run: RunRecord = {
      ...first,
      params: { ...first.params, seed: job.seed, batchSize: job.batchSize },
      n,
      cleanAccuracy: nCorrect / n,
      robustAccuracy: robust / n,
      successRate: nCorrect > 0 ? successes / nCorrect : 0,
      wallTimeSec,
    };
    if (parts.every((p) => typeof p.run.opticalTimeSec === 'number')) {
      run.opticalTimeSec = parts.reduce((a, p) => a + (p.run.opticalTimeSec as number), 0);
    }
    delete run.queries;
    delete run.gradientStats;
    const attacked = perSample.filter((r, i) => cleanCorrect[i] && r.queries !== undefined);
    const q = attacked.length ? queryStats(attacked.map((r) => r.success), attacked.map((r) => r.queries!)) : undefined;
    if (q) run.queries = q;
    if (parts.every((p) => p.run.gradientStats)) {
      // Every image has the same number of gradient entries, so weighting by entries = weighting by examples.
      let zero = 0;
      let nan = 0;
      for (const p of parts) {
        zero += p.run.gradientStats!.zeroFraction * p.run.n;
        nan += p.run.gradientStats!.nanFraction * p.run.n;
      }
      run.gradientStats = { zeroFraction: zero / n, nanFraction: nan / n };
    }
    out.push({ run, perSample });
  }
  return out;
}

/** Evaluate `job` over `workers` threads (1 = in-process, same chunked path); see the module comment. */
export async function evaluateAttackParallel(job: EvalJob, opts: ParallelEvalOptions): Promise<EvaluationRun[]> {
  const started = Date.now();
  validateEvalJob(job);
  if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new UserError(`bad workers '${opts.workers}': expected an integer >= 1`);
  // Fail early, in this thread, on a missing checkpoint or a bad attack name/parameters.
  if (!job.modelFile) readCheckpointMeta(job.checkpointDir);
  resolveAttack(job.attack, job.attackParams);
  const count = numChunks(job);
  const fractions = new Array<number>(count).fill(0);
  const report = (k: number, f: number, message?: string): void => {
    fractions[k] = f;
    opts.onProgress?.(fractions.reduce((a, b) => a + b, 0) / count, message);
  };
  const chunks: EvaluationRun[][] = new Array<EvaluationRun[]>(count);
  const todo: number[] = [];
  for (let k = 0; k < count; k++) {
    const saved = opts.chunks?.load(k, chunkIndices(job, k));
    if (saved) {
      chunks[k] = saved;
      report(k, 1, `chunk ${k + 1}/${count} (saved earlier)`);
    } else todo.push(k);
  }
  const finished = (k: number, runs: EvaluationRun[]): void => {
    chunks[k] = runs;
    opts.chunks?.save(k, chunkIndices(job, k), runs);
  };
  if (todo.length > 0 && opts.workers === 1) {
    const runner = await EvalChunkRunner.open(job);
    try {
      for (const k of todo) {
        finished(k, await runner.runChunk(k, (f, m) => report(k, f, m)));
        report(k, 1, `chunk ${k + 1}/${count}`);
      }
    } finally {
      runner.dispose();
    }
  } else if (todo.length > 0) {
    const onProgress = (t: number, f: number, m?: string): void => report(todo[t], f, m);
    const onResult = (t: number, runs: EvaluationRun[]): void => finished(todo[t], runs);
    if (opts.pool) {
      await opts.pool.run<EvaluationRun[]>(todo.map((k) => ({ chunk: k, job })), onProgress, onResult);
    } else {
      const pool = await WorkerPool.start({ workers: Math.min(opts.workers, todo.length), kind: 'eval', init: job, backend: opts.backend });
      try {
        await pool.run<EvaluationRun[]>(todo.map((k) => ({ chunk: k })), onProgress, onResult);
      } finally {
        await pool.close();
      }
    }
  }
  return mergeChunkRuns(chunks, job, (Date.now() - started) / 1000);
}
