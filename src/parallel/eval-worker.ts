/**
 * Worker-side handler of evaluation chunks. A pool started for one job opens that job at once; a pool shared by
 * several jobs (startEvalPool) gets the job with each task and keeps the last one open, so the chunks of one job
 * reuse the model it loaded. Either way the numbers of a chunk depend only on the job and the chunk index.
 * Opening a job is asynchronous (a TensorFlow.js model file loads through promises); tasks run one at a time.
 */
import type { TaskHandler } from './protocol';
import { EvalChunkRunner, type EvalJob } from './evaluate-parallel';

export async function createEvalHandler(init: unknown): Promise<TaskHandler> {
  let openKey: string | null = null;
  let runner: EvalChunkRunner | null = null;
  const open = async (job: EvalJob): Promise<EvalChunkRunner> => {
    const key = JSON.stringify(job);
    if (runner && key === openKey) return runner;
    runner?.dispose();
    runner = null;
    openKey = null;
    runner = await EvalChunkRunner.open(job);
    openKey = key;
    return runner;
  };
  if (init) await open(init as EvalJob);
  return {
    async run(payload, progress) {
      const { chunk, job } = payload as { chunk: number; job?: EvalJob };
      const r = job ? await open(job) : runner;
      if (!r) throw new Error('evaluation worker: a task without a job on a pool started without one');
      const result = await r.runChunk(chunk, progress);
      progress(1, `chunk ${chunk + 1} done`);
      return { result };
    },
    dispose: () => runner?.dispose(),
  };
}
