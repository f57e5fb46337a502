/** Worker-side replica for sharded training: a Network built from the config, weights read from shared memory. */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../models/config';
import { Network } from '../models/network';
import type { TaskHandler } from './protocol';
import { assignFlat } from './flat';
import { computeShard, replicaParams } from './shard-step';

export interface TrainWorkerInit {
  config: ModelConfig;
  /** All parameters (store order), written by the parent before each step. */
  state: SharedArrayBuffer;
  stateSize: number;
}

export interface ShardTask {
  /** Parameter version in `state`; the replica reloads when it changes. */
  version: number;
  pixels: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  dropoutSeed: number;
}

export function createTrainHandler(init: unknown): TaskHandler {
  const { config, state, stateSize } = init as TrainWorkerInit;
  const net = new Network(config);
  const params = replicaParams(net);
  if (params.allLayout.size !== stateSize) {
    net.dispose();
    throw new Error(`train replica has ${params.allLayout.size} parameters, the parent ${stateSize}`);
  }
  const shared = new Float32Array(state);
  let loaded = -1;
  return {
    async run(payload) {
      const task = payload as ShardTask;
      // Weights change once per step; running stats are reset for every micro-batch (each starts from the step's).
      assignFlat(params.all, params.allLayout, shared, loaded === task.version ? (p) => !p.trainable : undefined);
      loaded = task.version;
      const x = tf.tensor4d(task.pixels, task.shape, 'float32');
      const y = tf.tensor1d(task.labels, 'int32');
      try {
        const r = computeShard(net, params, x, y, task.dropoutSeed);
        return { result: r, transfer: [r.grads.buffer as ArrayBuffer, r.buffers.buffer as ArrayBuffer] };
      } finally {
        tf.dispose([x, y]);
      }
    },
    dispose: () => net.dispose(),
  };
}
