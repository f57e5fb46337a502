/** Worker-side handler of evaluation chunks: one EvalChunkRunner per worker, kept for the whole job. */
import type { TaskHandler } from './protocol';
import { EvalChunkRunner, type EvalJob } from './evaluate-parallel';

export function createEvalHandler(init: unknown): TaskHandler {
  const runner = EvalChunkRunner.open(init as EvalJob);
  return {
    async run(payload, progress) {
      const { chunk } = payload as { chunk: number };
      const result = await runner.runChunk(chunk, progress);
      progress(1, `chunk ${chunk + 1} done`);
      return { result };
    },
    dispose: () => runner.dispose(),
  };
}
