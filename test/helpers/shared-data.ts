import * as fs from 'fs';
import * as path from 'path';

/** The shared real-data folder: $OPULAB_DATA_DIR, else ../shared/datasets beside the repo; null when absent. */
export function sharedDataDir(): string | null {
  const dir = process.env.OPULAB_DATA_DIR ? path.resolve(process.env.OPULAB_DATA_DIR) : path.resolve(__dirname, '../../../shared/datasets');
  return fs.existsSync(path.join(dir, 'cifar-10-batches-bin')) ? dir : null;
}
