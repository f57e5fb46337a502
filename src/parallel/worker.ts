/**
 * Worker-thread entry (see spawn.ts): initialise this thread's own tfjs backend, build the handler named by
 * workerData.kind, then run tasks one at a time, posting progress, results (with transferred buffers) and errors.
 */
import { parentPort, workerData } from 'worker_threads';
import { initBackend } from '../backend/index';
import { isUserError } from '../util/errors';
import type { ParentMessage, SerializedError, TaskHandler, WorkerBoot, WorkerMessage } from './protocol';

function serialize(e: unknown): SerializedError {
  if (e instanceof Error) return { message: e.message, stack: e.stack, userError: isUserError(e) };
  return { message: String(e), userError: false };
}

async function createHandler(boot: WorkerBoot): Promise<TaskHandler> {
  switch (boot.kind) {
    case 'eval':
      return (await import('./eval-worker')).createEvalHandler(boot.init);
    case 'train':
      return (await import('./train-worker')).createTrainHandler(boot.init);
    case 'module': {
      if (!boot.handlerModule) throw new Error("worker kind 'module' without a handlerModule");
      const mod = (await import(boot.handlerModule)) as { createHandler?: (init: unknown) => TaskHandler | Promise<TaskHandler> };
      if (typeof mod.createHandler !== 'function') throw new Error(`${boot.handlerModule} exports no createHandler`);
      return mod.createHandler(boot.init);
    }
    case 'bench':
      return (await import('./bench-worker')).createBenchHandler(boot.init);
    default:
      throw new Error(`unknown worker kind '${String(boot.kind)}'`);
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('src/parallel/worker must run in a worker thread');
  const boot = workerData as WorkerBoot;
  const post = (m: WorkerMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  let handler: TaskHandler;
  try {
    await initBackend(boot.backend, true);
    handler = await createHandler(boot);
  } catch (e) {
    post({ type: 'error', id: null, error: serialize(e) });
    return;
  }
  // Tasks arrive one at a time (the pool waits for each result), so they run strictly in order.
  let queue = Promise.resolve();
  port.on('message', (m: ParentMessage) => {
    if (m.type === 'close') {
      handler.dispose();
      port.close();
      return;
    }
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await handler.run(m.payload, (fraction, message) =>
          post({ type: 'progress', id: m.id, fraction, message }),
        );
        post({ type: 'result', id: m.id, payload: result }, transfer);
      } catch (e) {
        post({ type: 'error', id: m.id, error: serialize(e) });
      }
    });
  });
  post({ type: 'ready' });
}

void main();
