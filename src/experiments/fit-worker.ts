/**
 * Worker-side handler that trains whole models, one per task: `opulab run` trains up to --workers models at once
 * this way (./train-model.ts). The pool's workers load this file by path (worker kind 'module'): src/parallel
 * sits below the training loop and does not import it. A model's training is single-threaded and independent of
 * the others, so a worker trains exactly the weights the in-process path would
 * (test/experiments-train-at-once.test.ts). The worker loads the splits itself from the request and keeps them
 * for its next task. Progress lines arrive at the parent as the task's progress messages.
 */
import type { Dataset } from '../../datasets/types';
import { loadSplits, type SplitsRequest } from '../../datasets/load';
import type { ModelConfig } from '../models/config';
import { Network } from '../models/network';
import { train, type TrainConfig, type TrainOptions } from '../training/trainer';
import type { TaskHandler } from '../parallel/protocol';

export interface FitTask {
  config: ModelConfig;
  train: TrainConfig;
  /** Structured-cloneable training options (checkpoint folder, resume, metadata, progress label). */
  options: TrainOptions;
  data: SplitsRequest;
}

export interface FitResult {
  epochsDone: number;
  testAccuracy: number;
}

export function createHandler(): TaskHandler {
  let loaded: { key: string; splits: { train: Dataset; test: Dataset } } | null = null;
  const splitsFor = (r: SplitsRequest): { train: Dataset; test: Dataset } => {
    const key = JSON.stringify(r);
    if (!loaded || loaded.key !== key) loaded = { key, splits: loadSplits(r) };
    return loaded.splits;
  };
  return {
    async run(payload, progress) {
      const task = payload as FitTask;
      // the training's lines travel with the task's messages: a worker's own stderr is flushed asynchronously and
      // can lose its last lines when the pool closes
      const stream = { isTTY: false, write: (text: string) => text.split('\n').forEach((line) => line && progress(0, line)) };
      const { train: trainSet, test: testSet } = splitsFor(task.data);
      const net = new Network(task.config);
      try {
        const r = await train(net, trainSet, testSet, task.train, { ...task.options, stream });
        const result: FitResult = { epochsDone: r.epochsDone, testAccuracy: r.testAccuracy };
        return { result };
      } catch (e) {
        // several models train at once: say which one failed (the error keeps its class, so a UserError exits 2)
        if (e instanceof Error && task.options.label) e.message = `model '${task.options.label}': ${e.message}`;
        throw e;
      } finally {
        net.dispose();
      }
    },
    dispose: () => {
      loaded = null;
    },
  };
}
