/**
 * Messages between a WorkerPool (parent) and its worker threads. A worker is booted with `WorkerBoot` as its
 * workerData, builds the handler of that kind, answers `ready`, then processes one task at a time.
 */
export type WorkerKind = 'eval' | 'train' | 'bench';

export interface WorkerBoot {
  kind: WorkerKind;
  /** tfjs backend the worker initialises (the parent's, so results match the in-process path). */
  backend: string;
  /** Index of this worker in its pool (0-based). */
  workerIndex: number;
  /** Kind-specific, structured-cloneable setup (EvalJob, replica config...). */
  init: unknown;
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
