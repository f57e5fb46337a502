/**
 * How far a model's training has come, read from its checkpoint's model.json without loading the weights. Used by
 * `run --check` to show where a stopped run stands (beside the saved attack chunks, `savedChunkNumbers` in
 * ./chunk-store.ts), and by training to tell a finished checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface CheckpointProgress {
  epochsDone: number;
  /** Test accuracy after the last trained epoch (NaN when the checkpoint has no history). */
  testAccuracy: number;
  /** Seconds of the trained epochs, summed. */
  seconds: number;
}

interface TrainMetaView {
  train?: { epochsDone?: number; history?: { testAccuracy?: number; seconds?: number }[] };
}

/** The progress recorded in a checkpoint directory; null when it has no model.json yet. */
export function checkpointProgress(dir: string): CheckpointProgress | null {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) return null;
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainMetaView;
  const history = meta.train?.history ?? [];
  return {
    epochsDone: meta.train?.epochsDone ?? history.length,
    testAccuracy: history.length ? history[history.length - 1].testAccuracy ?? NaN : NaN,
    seconds: history.reduce((s, e) => s + (e.seconds ?? 0), 0),
  };
}
