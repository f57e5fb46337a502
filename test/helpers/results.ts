/** Reading results.json in tests, and comparing two runs' results. */
import * as fs from 'fs';
import { ResultsFile } from '../../src/results/schema';

export function readResults(file: string): ResultsFile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ResultsFile;
}

/** A model or run record without what legitimately differs between two runs (timings, checkpoint paths). */
export function withoutTimings(o: Record<string, unknown>): Record<string, unknown> {
  const c = { ...o };
  delete c.wallTimeSec;
  delete c.checkpoint;
  if (c.train && typeof c.train === 'object') {
    const t = { ...(c.train as Record<string, unknown>) };
    t.history = ((t.history as Record<string, unknown>[]) ?? []).map((h) => ({ ...h, imgPerSec: 0, seconds: 0 }));
    c.train = t;
  }
  return c;
}
