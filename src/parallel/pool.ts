/**
 * A fixed pool of worker threads, each with its own tfjs backend, fed from a work queue: `run(tasks)` hands tasks
 * out dynamically (a worker takes the next one when it finishes) and returns the results by task index, so the
 * outcome does not depend on which worker ran what. Workers stay alive across `run` calls until `close()`.
 *
 * Failure: the first error (a task throwing, a worker crashing or exiting) rejects the pending `run` with one
 * clear error, and the whole pool is terminated — no hang, no half-alive workers. A UserError thrown in a worker
 * arrives as a UserError.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Worker } from 'worker_threads';
import { UserError } from '../util/errors';
import { spawnWorker } from './spawn';
import type { ParentMessage, SerializedError, WorkerKind, WorkerMessage } from './protocol';

export interface PoolOptions {
  workers: number;
  kind: WorkerKind;
  /** Setup passed to every worker (or per worker index). Must be structured-cloneable. */
  init: unknown | ((workerIndex: number) => unknown);
  /** Backend for the workers (default: the parent's current tfjs backend). */
  backend?: string;
  /** kind 'module': the handler's file (see WorkerBoot). */
  handlerModule?: string;
}

export type TaskProgress = (task: number, fraction: number, message?: string) => void;

interface Pending {
  id: number;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  onProgress?: TaskProgress;
}

class PoolWorker {
  pending: Pending | null = null;
  private readyWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private exited = false;
  closing = false;

  constructor(
    readonly index: number,
    readonly worker: Worker,
    private readonly onFatal: (err: Error) => void,
  ) {
    worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    worker.on('error', (e: Error) => this.fail(new Error(`worker ${index} crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      this.exited = true;
      if (!this.closing) this.fail(new Error(`worker ${index} exited unexpectedly with code ${code}`));
    });
  }

  ready(): Promise<void> {
    if (this.exited) return Promise.reject(new Error(`worker ${this.index} exited before it was ready`));
    return new Promise((resolve, reject) => (this.readyWaiter = { resolve, reject }));
  }

  exec(id: number, payload: unknown, onProgress?: TaskProgress): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject, onProgress };
      const msg: ParentMessage = { type: 'task', id, payload };
      this.worker.postMessage(msg);
    });
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.type) {
      case 'ready':
        this.readyWaiter?.resolve();
        this.readyWaiter = null;
        return;
      case 'progress':
        if (this.pending && this.pending.id === m.id) this.pending.onProgress?.(m.id, m.fraction, m.message);
        return;
      case 'result': {
        const p = this.pending;
        this.pending = null;
        p?.resolve(m.payload);
        return;
      }
      case 'error':
        this.fail(remoteError(m.error, this.index, m.id));
        return;
    }
  }

  /** Reject whatever is waiting on this worker and tell the pool. */
  private fail(err: Error): void {
    if (this.closing) return;
    const waiter = this.readyWaiter;
    const p = this.pending;
    this.readyWaiter = null;
    this.pending = null;
    waiter?.reject(err);
    p?.reject(err);
    this.onFatal(err);
  }
}

function remoteError(e: SerializedError, worker: number, task: number | null): Error {
  if (e.userError) return new UserError(e.message);
  const where = task === null ? `worker ${worker} failed to start` : `worker ${worker} failed on task ${task}`;
  const err = new Error(`${where}: ${e.message}`);
  if (e.stack) err.stack = `${err.message}\n--- worker stack ---\n${e.stack}`;
  return err;
}

export class WorkerPool {
  private broken: Error | null = null;
  private closed = false;

  private constructor(private readonly workers: PoolWorker[]) {}

  static async start(opts: PoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new UserError(`bad workers ${opts.workers}: expected an integer >= 1`);
    const backend = opts.backend ?? tf.getBackend();
    const members: PoolWorker[] = [];
    let pool: WorkerPool | null = null;
    const onFatal = (err: Error): void => pool?.teardown(err);
    for (let i = 0; i < opts.workers; i++) {
      const init = typeof opts.init === 'function' ? (opts.init as (i: number) => unknown)(i) : opts.init;
      members.push(new PoolWorker(i, spawnWorker({ kind: opts.kind, backend, workerIndex: i, init, ...(opts.handlerModule ? { handlerModule: opts.handlerModule } : {}) }), onFatal));
    }
    pool = new WorkerPool(members);
    try {
      await Promise.all(members.map((m) => m.ready()));
    } catch (e) {
      pool.teardown(e as Error);
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Run every task on some worker; results in task order. `onResult` sees each result as its task finishes (a
   * caller that saves finished work keeps it if a later task fails or the process is killed). Rejects (and tears
   * the pool down) on the first error.
   */
  run<R>(tasks: readonly unknown[], onProgress?: TaskProgress, onResult?: (task: number, result: R) => void): Promise<R[]> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<R[]>((resolve, reject) => {
      const results = new Array<R>(tasks.length);
      let next = 0;
      let done = 0;
      let failed = false;
      if (tasks.length === 0) {
        resolve(results);
        return;
      }
      const feed = (w: PoolWorker): void => {
        if (failed || next >= tasks.length) return;
        const id = next++;
        w.exec(id, tasks[id], onProgress).then(
          (r) => {
            if (failed) return;
            results[id] = r as R;
            try {
              onResult?.(id, r as R);
            } catch (err) {
              failed = true;
              this.teardown(err as Error);
              reject(err as Error);
              return;
            }
            done += 1;
            if (done === tasks.length) resolve(results);
            else feed(w);
          },
          (err: Error) => {
            if (failed) return;
            failed = true;
            this.teardown(err);
            reject(err);
          },
        );
      };
      this.workers.forEach(feed);
    });
  }

  /** Terminate every worker (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.closing = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private teardown(err: Error): void {
    if (this.broken || this.closed) return;
    this.broken = err;
    for (const w of this.workers) {
      w.closing = true;
      // Reject whatever another worker is still computing: the pool is gone.
      w.pending?.reject(err);
      w.pending = null;
      void w.worker.terminate();
    }
  }
}
