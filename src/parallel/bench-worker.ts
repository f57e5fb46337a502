/** Worker-side replica for the data-parallel benchmark: a BenchModel holding this worker's share of the batch. */
import * as tf from '@tensorflow/tfjs-core';
import { BenchModel, Workload } from '../bench/workloads';
import type { TaskHandler } from './protocol';
import { assignFlat, flatLayout, packTensors } from './flat';

export interface BenchWorkerInit {
  width: number;
  /** This worker's share of the batch. */
  batch: number;
  seed: number;
  /** All parameters of the parent's model (store order), rewritten before every train step. */
  state: SharedArrayBuffer;
}

export interface BenchTask {
  workload: Workload;
  version: number;
}

export interface BenchTaskResult {
  count: number;
  /** train only: gradients of the mean loss over this worker's images, trainable parameters in store order. */
  grads?: Float32Array;
}

export function createBenchHandler(init: unknown): TaskHandler {
  const { width, batch, seed, state } = init as BenchWorkerInit;
  const model = new BenchModel(width, batch, seed);
  const all = model.store.list();
  const trainable = all.filter((p) => p.trainable);
  const allLayout = flatLayout(all);
  const trainableLayout = flatLayout(trainable);
  const shared = new Float32Array(state);
  let loaded = -1;
  return {
    async run(payload) {
      const task = payload as BenchTask;
      if (task.workload !== 'train') {
        model.run(task.workload);
        return { result: { count: batch } satisfies BenchTaskResult };
      }
      if (task.version !== loaded) assignFlat(all, allLayout, shared);
      loaded = task.version;
      const { value, grads } = tf.variableGrads(() => model.loss(model.x, true), trainable.map((p) => p.variable));
      const packed = packTensors(trainable.map((p) => grads[p.variable.name]), trainableLayout);
      value.dispose();
      tf.dispose(Object.values(grads));
      return { result: { count: batch, grads: packed } satisfies BenchTaskResult, transfer: [packed.buffer as ArrayBuffer] };
    },
    dispose: () => model.dispose(),
  };
}
