/** Data-parallel attack evaluation (src/parallel/evaluate-parallel.ts) and the worker pool's failure handling. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { Network } from '../src/models/network';
import { defaultModelConfig, ModelConfig } from '../src/models/config';
import { saveCheckpoint } from '../src/training/checkpoint';
import { chunkIndices, ChunkStore, EvalChunkRunner, EvalJob, evaluateAttackParallel, mergeChunkRuns, startEvalPool } from '../src/parallel/evaluate-parallel';
import { evaluateAttack, type EvaluationRun } from '../attacks/evaluate';
import { createAttack } from '../attacks/registry';
import { loadNetwork } from '../src/training/trainer';
import { classifierFor } from '../src/models/classifier';
import { loadDataset, takeTensors } from '../datasets';
import type { PerSampleRecord, RunRecord } from '../src/results/schema';
import { UserError } from '../src/util/errors';
import { WorkerPool } from '../src/parallel/pool';

let root: string;

function writeCheckpoint(name: string, partial: Partial<ModelConfig>): string {
  const dir = path.join(root, name);
  const net = new Network(defaultModelConfig({ architecture: 'vgg11', width: 0.125, opuIn: 32, opuOut: 64, ...partial }));
  saveCheckpoint(dir, net.config, net.store.list().map((p) => ({ name: p.name, tensor: p.variable })), {}, {});
  net.dispose();
  return dir;
}

function job(checkpointDir: string, over: Partial<EvalJob> = {}): EvalJob {
  return {
    checkpointDir,
    gradientMode: 'natural',
    signSurrogate: 'ste',
    attack: 'pgd',
    attackParams: { steps: 2 },
    epsPixel: [0.01, 0.03],
    epsSpace: 'pixel',
    epsInSpace: [0.01, 0.03],
    dataset: { name: 'synthetic', split: 'test', indices: [7, 3, 12, 0, 5, 9, 21, 4, 15, 2] },
    batchSize: 4,
    seed: 11,
    modelId: 'tiny',
    ...over,
  };
}

const withoutWallTime = (runs: EvaluationRun[]): RunRecord[] => runs.map((r) => ({ ...r.run, wallTimeSec: 0 }));

beforeAll(async () => {
  await initBackend('wasm', true);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'opulab-par-eval-'));
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('chunking', () => {
  test('chunk k is always indices[k*b .. (k+1)*b)', () => {
    const j = job('unused');
    expect(chunkIndices(j, 0)).toEqual([7, 3, 12, 0]);
    expect(chunkIndices(j, 1)).toEqual([5, 9, 21, 4]);
    expect(chunkIndices(j, 2)).toEqual([15, 2]);
  });

  test('merge recomputes the aggregates from the records (hand-worked case)', () => {
    const rec = (index: number, label: number, clean: number, adv: number, queries?: number): PerSampleRecord => ({
      index,
      label,
      cleanPrediction: clean,
      adversarialPrediction: adv,
      success: adv !== label,
      eps: 0.1,
      ...(queries !== undefined ? { queries } : {}),
    });
    const base: RunRecord = {
      model: 'm', attack: 'a', threat: 'black-box-score', norm: 'linf', eps: 0.1, epsSpace: 'pixel', params: { seed: 99, batchSize: 2 },
      n: 0, cleanAccuracy: 0, robustAccuracy: 0, wallTimeSec: 5,
    };
    // chunk 0: correct & robust (q 10), correct & broken (q 4); chunk 1: clean-wrong, correct & broken (q 8).
    const c0: EvaluationRun = { run: { ...base, gradientStats: { zeroFraction: 0.5, nanFraction: 0 }, n: 2 }, perSample: [rec(0, 1, 1, 1, 10), rec(1, 2, 2, 0, 4)] };
    const c1: EvaluationRun = { run: { ...base, gradientStats: { zeroFraction: 0, nanFraction: 0.25 }, n: 2 }, perSample: [rec(2, 3, 4, 4, 1), rec(3, 0, 0, 5, 8)] };
    const [m] = mergeChunkRuns([[c0], [c1]], { seed: 7, batchSize: 2 }, 3.5);
    expect(m.perSample.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    expect(m.run.n).toBe(4);
    expect(m.run.cleanAccuracy).toBe(3 / 4);
    expect(m.run.robustAccuracy).toBe(1 / 4);
    expect(m.run.successRate).toBe(2 / 3);
    expect(m.run.queries).toEqual({ mean: 6, median: 6, curve: [[4, 1 / 3], [8, 2 / 3]] });
    expect(m.run.gradientStats).toEqual({ zeroFraction: 0.25, nanFraction: 0.125 });
    expect(m.run.params).toEqual({ seed: 7, batchSize: 2 });
    expect(m.run.wallTimeSec).toBe(3.5);
  });
});

describe('evaluateAttackParallel', () => {
  test('workers 1 and 2 give identical records and runs (white-box PGD, natural gradient)', async () => {
    const dir = writeCheckpoint('bp', {});
    const progress: number[] = [];
    const one = await evaluateAttackParallel(job(dir), { workers: 1 });
    const two = await evaluateAttackParallel(job(dir), { workers: 2, onProgress: (f) => progress.push(f) });
    expect(two.map((r) => r.perSample)).toEqual(one.map((r) => r.perSample));
    expect(withoutWallTime(two)).toEqual(withoutWallTime(one));
    expect(one[0].perSample.map((r) => r.index)).toEqual(job(dir).dataset.indices);
    expect(one[0].run.n).toBe(10);
    expect(one[1].run.epsInSpace).toBe(0.03);
    expect(one[0].run.gradientStats).toBeDefined();
    expect(progress[progress.length - 1]).toBeCloseTo(1, 10);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] - 1e-12);
    // The chunk seed matters: another job seed changes the random starts, hence the perturbations.
    const other = await evaluateAttackParallel(job(dir, { seed: 12 }), { workers: 1 });
    expect(other[1].perSample.map((r) => r.loss)).not.toEqual(one[1].perSample.map((r) => r.loss));
  });

  test('black-box queries and a stochastic (camera-noise) model with EOT are identical for 1 and 2 workers', async () => {
    const dir = writeCheckpoint('noisy', { defense: 'optical', training: 'hybrid', camera: { readNoiseStd: 0.5 } });
    const j = job(dir, { attack: 'square', attackParams: { maxQueries: 20 }, epsPixel: [0.05], epsInSpace: undefined, eot: 2, gradientMode: 'bpda-random' });
    const one = await evaluateAttackParallel(j, { workers: 1 });
    const two = await evaluateAttackParallel(j, { workers: 2 });
    expect(two[0].perSample).toEqual(one[0].perSample);
    expect(withoutWallTime(two)).toEqual(withoutWallTime(one));
    expect(one[0].perSample.every((r) => typeof r.queries === 'number')).toBe(true);
    // Square asks one noisy pass per query: the EOT gradient samples do not apply to it
    expect(one[0].run.eot).toEqual({ samples: 1, evalPasses: 10 });
  });

  test('one pool handed in serves several jobs, in any order, with the numbers of a pool per job', async () => {
    const a = writeCheckpoint('pool-a', {});
    const b = writeCheckpoint('pool-b', { defense: 'optical', training: 'hybrid', camera: { readNoiseStd: 0.5 } });
    const jobs = [job(a), job(b, { attack: 'square', attackParams: { maxQueries: 20 }, epsPixel: [0.05], epsInSpace: undefined, eot: 2, gradientMode: 'bpda-random' }), job(a, { seed: 12 })];
    const own = [];
    for (const j of jobs) own.push(withoutWallTime(await evaluateAttackParallel(j, { workers: 2 })));
    const pool = await startEvalPool(2);
    try {
      const shared = [];
      for (const j of jobs) shared.push(withoutWallTime(await evaluateAttackParallel(j, { workers: 2, pool })));
      expect(shared).toEqual(own);
      // the pool stays open for the caller: a job after the others still runs on it
      expect(withoutWallTime(await evaluateAttackParallel(jobs[0], { workers: 2, pool }))).toEqual(own[0]);
    } finally {
      await pool.close();
    }
  });

  /** A chunk store in memory that fails its `failAfter`-th save, as a process killed after that many chunks. */
  class MemoryStore implements ChunkStore {
    readonly saved = new Map<number, EvaluationRun[]>();
    readonly saves: number[] = [];
    constructor(private failAfter = Infinity) {}
    load(k: number): EvaluationRun[] | undefined {
      return this.saved.get(k);
    }
    save(k: number, _indices: readonly number[], runs: EvaluationRun[]): void {
      if (this.saves.length >= this.failAfter) throw new Error('killed');
      this.saves.push(k);
      this.saved.set(k, structuredClone(runs));
    }
    resume(): this {
      this.failAfter = Infinity;
      this.saves.length = 0;
      return this;
    }
  }

  test('a job stopped after some chunks resumes from its saved chunks and equals the uninterrupted job (1 and 2 workers)', async () => {
    const dir = writeCheckpoint('resume', { defense: 'optical', training: 'hybrid', camera: { readNoiseStd: 0.5 } });
    // three chunks (4, 4, 2 images); a noisy model, so a chunk evaluated again out of order would differ
    const j = job(dir, { gradientMode: 'bpda-random', eot: 2, attackParams: { steps: 2, randomStart: true } });
    const uninterrupted = await evaluateAttackParallel(j, { workers: 1 });
    const whole = withoutWallTime(uninterrupted);
    const wholeSamples = uninterrupted.map((r) => r.perSample);
    for (const workers of [1, 2]) {
      const store = new MemoryStore(1);
      await expect(evaluateAttackParallel(j, { workers, chunks: store })).rejects.toThrow(/killed/);
      expect(store.saved.size).toBe(1);
      const first = [...store.saved.keys()];
      const resumed = await evaluateAttackParallel(j, { workers, chunks: store.resume() });
      // only the chunks not saved before were evaluated (every evaluated chunk is saved)
      expect(store.saves.sort()).toEqual([0, 1, 2].filter((k) => !first.includes(k)));
      expect(withoutWallTime(resumed)).toEqual(whole);
      expect(resumed.map((r) => r.perSample)).toEqual(wholeSamples);
    }
    // a saved chunk is taken as it is: a changed record there shows up in the merged runs
    const store = new MemoryStore();
    await evaluateAttackParallel(j, { workers: 1, chunks: store });
    const planted = store.saved.get(1)!;
    for (const r of planted) for (const p of r.perSample) p.adversarialPrediction = p.label === 0 ? 1 : 0;
    const again = await evaluateAttackParallel(j, { workers: 1, chunks: store.resume() });
    expect(store.saves).toEqual([]);
    expect(again[0].perSample.slice(4, 8).map((p) => p.adversarialPrediction)).toEqual(planted[0].perSample.map((p) => p.adversarialPrediction));
    expect(again[0].perSample.slice(4, 8)).not.toEqual(wholeSamples[0].slice(4, 8));
  });

  test('the parallel wrapper adds no tensors of its own (in-process path)', async () => {
    const dir = writeCheckpoint('mem', {});
    const small = job(dir, { dataset: { name: 'synthetic', split: 'test', indices: [1, 2, 3] }, batchSize: 2, epsPixel: [0.01], epsInSpace: undefined });
    let before = tf.memory().numTensors;
    (await EvalChunkRunner.open(small)).dispose();
    expect(tf.memory().numTensors).toBe(before);
    await evaluateAttackParallel(small, { workers: 1 });
    before = tf.memory().numTensors;
    await evaluateAttackParallel(small, { workers: 1 });
    await evaluateAttackParallel(small, { workers: 1 });
    const parallelDelta = tf.memory().numTensors - before;
    // Baseline: evaluateAttack itself on the same two chunks, set up without src/parallel. (Upstream, the kept
    // per-example loss of NetworkClassifier.lossAndGradient escapes callers' tf.tidy; see the report.)
    const { net } = loadNetwork(dir);
    const model = classifierFor(net);
    const data = loadDataset('synthetic', 'test', { limit: 4 });
    before = tf.memory().numTensors;
    for (let rep = 0; rep < 2; rep++) {
      for (const idx of [[1, 2], [3]]) {
        const { x, y } = takeTensors(data, idx);
        y.dispose();
        await evaluateAttack(model, { x, labels: Int32Array.from(idx, (i) => data.labels[i]) }, createAttack('pgd', { steps: 2 }), [0.01], {
          seed: 1,
          batchSize: 2,
          epsSpace: 'pixel',
          modelId: 'tiny',
        });
        x.dispose();
      }
    }
    const directDelta = tf.memory().numTensors - before;
    net.dispose();
    expect(parallelDelta).toBe(directDelta);
  });

  test('a task that throws in the workers rejects once with that error and does not hang', async () => {
    const dir = writeCheckpoint('bad-eps', {});
    const bad = job(dir, { epsPixel: [-1], epsInSpace: undefined });
    await expect(evaluateAttackParallel(bad, { workers: 2 })).rejects.toThrow(/bad eps -1/);
    await expect(evaluateAttackParallel(bad, { workers: 2 })).rejects.toBeInstanceOf(UserError);
  });

  test('a worker failing at start-up (missing weights file) tears the pool down with a clear error', async () => {
    const dir = writeCheckpoint('broken', {});
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.bin')) fs.rmSync(path.join(dir, f));
    await expect(evaluateAttackParallel(job(dir), { workers: 2 })).rejects.toThrow(/weights file .* is missing/);
  });

  test("a 'module' pool loads its handler from the file it names, and names a file that exports none", async () => {
    const good = path.join(root, 'echo-handler.js');
    fs.writeFileSync(good, "exports.createHandler = (init) => ({ run: async (p, progress) => { progress(0.5, 'half'); return { result: init.k * p }; }, dispose() {} });");
    const pool = await WorkerPool.start({ workers: 2, kind: 'module', handlerModule: good, init: { k: 3 } });
    const lines: string[] = [];
    try {
      expect(await pool.run<number>([1, 2, 5], (t, _f, m) => lines.push(`${t}:${m}`))).toEqual([3, 6, 15]);
    } finally {
      await pool.close();
    }
    expect(lines.sort()).toEqual(['0:half', '1:half', '2:half']);
    const none = path.join(root, 'no-handler.js');
    fs.writeFileSync(none, 'exports.other = 1;');
    await expect(WorkerPool.start({ workers: 1, kind: 'module', handlerModule: none, init: null })).rejects.toThrow(/no-handler\.js exports no createHandler/);
  });

  test('bad input is a UserError naming the value', async () => {
    const dir = writeCheckpoint('input', {});
    await expect(evaluateAttackParallel(job(dir), { workers: 0 })).rejects.toThrow(/bad workers '0'/);
    await expect(evaluateAttackParallel(job(dir, { batchSize: 0 }), { workers: 1 })).rejects.toThrow(/bad batch size '0'/);
    await expect(evaluateAttackParallel(job(dir, { attack: 'nope' }), { workers: 2 })).rejects.toThrow(/unknown attack 'nope'/);
    await expect(evaluateAttackParallel(job(path.join(root, 'none')), { workers: 2 })).rejects.toThrow(/no model.json/);
  });
});
