/** Per-file scratch folders. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A new folder under the system temp dir, removed (with everything in it) after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
