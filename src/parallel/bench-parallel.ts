/**
 * The benchmark's workloads run data-parallel over worker threads: each worker holds a replica with its share of
 * the batch (sizes differ by at most one). forward / input_grad: every worker runs its share. train: workers
 * compute gradients of their share, the parent averages them (weighted by share), takes the SGD-momentum step on
 * its copy and broadcasts the weights through shared memory before the next step — the same exchange as sharded
 * training (train-parallel.ts), so the timing includes it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BenchModel, Workload } from '../bench/workloads';
import { flatLayout, packTensors, unpackTensors, weightedSum } from './flat';
import { WorkerPool } from './pool';
import { shardSizes } from './shard-step';
import type { BenchTask, BenchTaskResult, BenchWorkerInit } from './bench-worker';

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

export class ParallelBench {
  private version = 0;
  /** Seconds per phase summed over train steps: broadcast weights, wait for the workers, average, optimizer step. */
  readonly timing = { steps: 0, broadcast: 0, workers: 0, average: 0, apply: 0 };
  private readonly optimizer = tf.train.momentum(0.01, 0.9);

  private constructor(
    private readonly pool: WorkerPool,
    private readonly parent: BenchModel,
    private readonly state: Float32Array,
    readonly sizes: number[],
  ) {}

  static async start(width: number, batch: number, seed: number, workers: number, backend?: string): Promise<ParallelBench> {
    const sizes = shardSizes(batch, workers);
    // The parent's replica only holds parameters (same init as the workers': same seed, params made first).
    const parent = new BenchModel(width, 1, seed);
    const shared = new SharedArrayBuffer(flatLayout(parent.store.list()).size * 4);
    try {
      const pool = await WorkerPool.start({
        workers,
        kind: 'bench',
        backend,
        init: (i: number): BenchWorkerInit => ({ width, batch: sizes[i], seed, state: shared }),
      });
      return new ParallelBench(pool, parent, new Float32Array(shared), sizes);
    } catch (e) {
      parent.dispose();
      throw e;
    }
  }

  /** One data-parallel call of the workload over the whole batch (resolves when every share is done). */
  async run(workload: Workload): Promise<void> {
    const all = this.parent.store.list();
    const t0 = now();
    if (workload === 'train') {
      packTensors(all.map((p) => p.variable), flatLayout(all), this.state);
      this.version += 1;
    }
    const t1 = now();
    const tasks: BenchTask[] = this.sizes.map(() => ({ workload, version: this.version }));
    const results = await this.pool.run<BenchTaskResult>(tasks);
    if (workload !== 'train') return;
    const t2 = now();
    const trainable = all.filter((p) => p.trainable);
    const total = results.reduce((a, r) => a + r.count, 0);
    const mean = weightedSum(results.map((r) => r.grads!), results.map((r) => r.count / total));
    const grads = unpackTensors(flatLayout(trainable), mean);
    const t3 = now();
    this.optimizer.applyGradients(trainable.map((p, i) => ({ name: p.variable.name, tensor: grads[i] })));
    tf.dispose(grads);
    const t4 = now();
    const tm = this.timing;
    tm.steps += 1;
    tm.broadcast += t1 - t0;
    tm.workers += t2 - t1;
    tm.average += t3 - t2;
    tm.apply += t4 - t3;
  }

  async close(): Promise<void> {
    await this.pool.close();
    this.optimizer.dispose();
    this.parent.dispose();
  }
}
