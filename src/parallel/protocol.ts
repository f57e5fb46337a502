/**
 * Messages between a WorkerPool (parent) and its worker threads. A worker is booted with `WorkerBoot` as its
 * workerData, builds the handler of that kind, answers `ready`, then processes one task at a time.
 */
/**
 * eval: attack chunks; train: gradient shards of one training step; bench: benchmarks; module: the handler of a
 * layer above this one (whole models for `opulab run`), named by its file in `WorkerBoot.handlerModule`, so this
 * layer never imports it.
 */
export type WorkerKind = 'eval' | 'train' | 'bench' | 'module';

export interface WorkerBoot {
  kind: WorkerKind;
  /** tfjs backend the worker initialises (the parent's, so results match the in-process path). */
  backend: string;
  /** Index of this worker in its pool (0-based). */
  workerIndex: number;
  /** Kind-specific, structured-cloneable setup (EvalJob, replica config...). */
  init: unknown;
  /** kind 'module': the file (resolved like require, .js or .ts) whose `createHandler(init)` builds the handler. */
  handlerModule?: string;
}

export type ParentMessage = { type: 'task'; id: number; payload: unknown } | { type: 'close' };

export interface SerializedError {
  message: string;
  stack?: string;
  userError: boolean;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; id: number; fraction: number; message?: string }
  | { type: 'result'; id: number; payload: unknown }
  | { type: 'error'; id: number | null; error: SerializedError };

/** What a worker-side handler implements (one per WorkerKind). */
export interface TaskHandler {
  run(payload: unknown, progress: (fraction: number, message?: string) => void): Promise<{ result: unknown; transfer?: ArrayBuffer[] }>;
  dispose(): void;
}
